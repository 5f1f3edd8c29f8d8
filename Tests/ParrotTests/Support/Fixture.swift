import Foundation

/// C programs under Tests/Fixtures/, compiled once per test run into the
/// build directory (a temporary one would be left behind by every run).
enum Fixture {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: String] = [:]
    static let directory: String = {
        let path = Paths.repository + "/.build/test-fixtures"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Compiles Tests/Fixtures/NAME.c with `flags` and returns the binary's path.
    static func binary(_ name: String, flags: [String] = []) -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = ([name] + flags).joined(separator: " ")
        if let path = built[key] { return path }
        let output = directory + "/" + name + (flags.isEmpty ? "" : "-" + String(key.hashValue.magnitude))
        let result = Command.run(["/usr/bin/cc", "-O1", "-o", output,
                                  Paths.repository + "/Tests/Fixtures/\(name).c"] + flags)
        precondition(result.status == 0, "cannot compile \(name).c: \(result)")
        built[key] = output
        return output
    }
}
