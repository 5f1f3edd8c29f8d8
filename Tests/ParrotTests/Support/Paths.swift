import Foundation

enum Paths {
    /// The repository root (this file is Tests/ParrotTests/Support/Paths.swift).
    static let repository: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The parrot binary under test: $PARROT_BIN, else the debug build.
    static let parrot: String = {
        if let path = ProcessInfo.processInfo.environment["PARROT_BIN"] { return path }
        return repository + "/.build/debug/parrot"
    }()

    /// A fresh directory under the system temp dir, removed by the caller.
    static func temporaryDirectory(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "parrot-test-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Resolve symlinks (e.g. /tmp) so that native and traced runs print the same paths.
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func write(_ text: String, to path: String, executable: Bool = false) {
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        try! text.write(toFile: path, atomically: false, encoding: .utf8)
        if executable { chmod(path, 0o755) }
    }
}
