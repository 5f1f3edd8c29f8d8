// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Parrot",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "parrot", targets: ["parrot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // System libraries, found with pkg-config (libseccomp-dev, libssl-dev).
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        // The only C: the fork-to-exec child, variadic ptrace, register structs.
        .target(name: "CParrotShim"),
        // Trap policy (filters/) compiled to a seccomp-BPF program.
        .target(name: "ParrotFilter", dependencies: ["CSeccomp", "CParrotShim"]),
        // Spawn, wait loop, stops, events, signals, memory access.
        .target(name: "ParrotTracer", dependencies: ["CParrotShim", "ParrotFilter"]),
        // The FileService protocol every driver implements, and the local driver.
        .systemLibrary(name: "CLinuxHeaders"),
        .target(name: "ParrotServices", dependencies: ["CLinuxHeaders"]),
        // Mount table, path resolution, per-process namespace state.
        .target(name: "ParrotNamespace", dependencies: ["ParrotServices", "ParrotFilter"]),
        // The whole-file cache of remote files, shared by every driver.
        .target(name: "ParrotCache", dependencies: ["ParrotServices"]),
        // The Chirp protocol driver.
        .target(name: "ParrotChirp", dependencies: ["ParrotServices"]),
        // TLS client sessions from the system OpenSSL, for HTTPS and FTPS.
        .target(name: "ParrotTLS", dependencies: ["ParrotServices", "COpenSSL"]),
        // The HTTP and HTTPS driver (read-only).
        .target(name: "ParrotHTTP", dependencies: ["ParrotServices", "ParrotTLS"]),
        // The FTP and FTPS driver.
        .target(name: "ParrotFTP", dependencies: ["ParrotServices", "ParrotTLS"]),
        // The sandbox: Landlock rules from the mount list, the start-up report.
        .target(name: "ParrotSandbox", dependencies: ["CParrotShim", "ParrotNamespace", "ParrotServices"]),
        // openat2, which Swift cannot call (variadic syscall), and file digests
        // (libcrypto of libssl-dev) for the server.
        .target(name: "CChirpServerShim", linkerSettings: [.linkedLibrary("crypto")]),
        // The bundled Chirp server (SwiftNIO); shares nothing with the agent.
        .target(name: "ParrotChirpServer", dependencies: [
            "CChirpServerShim",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // One handler per trapped syscall.
        .target(name: "ParrotAgent", dependencies: [
            "ParrotTracer", "ParrotNamespace", "ParrotFilter", "ParrotServices", "ParrotSandbox", "ParrotCache",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "parrot", dependencies: [
            "ParrotAgent", "ParrotChirp", "ParrotHTTP", "ParrotFTP", "ParrotServices", "ParrotSandbox", "ParrotCache", "ParrotChirpServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ParrotTests", dependencies: [
            "ParrotFilter", "ParrotNamespace", "ParrotAgent", "ParrotServices", "ParrotChirp", "ParrotHTTP", "ParrotFTP",
            "ParrotSandbox", "ParrotChirpServer", "ParrotCache",
        ]),
    ]
)
