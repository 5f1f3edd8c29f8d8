import Foundation
import ParrotChirp
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Chirp server a test started on 127.0.0.1 over a fresh directory:
/// Debian's chirp_server (ChirpServer) or `parrot chirp-server` (BundledChirpServer).
protocol ChirpTestServer: AnyObject, Sendable {
    /// The exported directory.
    var root: String { get }
    var port: UInt16 { get }
    /// What the server printed.
    var log: String { get }
    /// The permission bits a file or directory created with `mode` ends up with.
    func createdMode(_ mode: mode_t) -> mode_t
    /// Gives a file the tests made to the uid the server works as.
    func own(_ path: String)
    /// Stops the server and removes its directory.
    func finish()
}

extension ChirpTestServer {
    /// A service for this server, with short retries so that failures show quickly.
    func service(_ configure: (inout ChirpOptions) -> Void = { _ in }) -> ChirpFileService {
        var options = ChirpOptions()
        options.retryTimeout = 5
        options.initialBackoff = 0.05
        options.stallTimeout = 20
        configure(&options)
        return ChirpFileService(host: "127.0.0.1", port: port, options: options)
    }

    /// The server's file behind a Chirp path.
    func local(_ path: String) -> String { root + path }

    func write(_ path: String, _ contents: String) { write(path, Array(contents.utf8)) }

    func write(_ path: String, _ bytes: [UInt8]) {
        precondition(FileManager.default.createFile(atPath: local(path), contents: Data(bytes)), "cannot write \(path)")
        own(local(path))
    }

    func makeDirectory(_ path: String) {
        try! FileManager.default.createDirectory(atPath: local(path), withIntermediateDirectories: true)
        own(local(path))
    }

    func symlink(_ target: String, at path: String) {
        Glibc.symlink(target, local(path))
        own(local(path))
    }

    /// `host:port` as the Debian command-line tools take it.
    var address: String { "127.0.0.1:\(port)" }
}

/// Which server a test runs against, so that one set of expectations checks both.
enum ChirpServerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case debian, bundled

    var testDescription: String { rawValue }

    func start() throws -> any ChirpTestServer {
        switch self {
        case .debian: try ChirpServer()
        case .bundled: try BundledChirpServer()
        }
    }
}

/// Runs `body` with a fresh server of `kind`, and stops it whatever happens.
func withChirpServer(_ kind: ChirpServerKind, _ body: (any ChirpTestServer) throws -> Void) throws {
    let server = try kind.start()
    defer { server.finish() }
    try body(server)
}
