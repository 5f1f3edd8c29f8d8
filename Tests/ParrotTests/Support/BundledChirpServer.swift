import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `parrot chirp-server` on 127.0.0.1, on a free port, exporting a fresh
/// directory, for one test. It runs as the test's user and exits if the test
/// process dies (--parent-death).
final class BundledChirpServer: ChirpTestServer, @unchecked Sendable {
    let directory: String
    let root: String
    private(set) var port: UInt16 = 0
    private(set) var pid: pid_t = 0

    /// `acl`: the default ACL (the Debian fixture's by default); `arguments`
    /// are added to the command line.
    init(_ arguments: [String] = [], acl: String = ChirpServer.defaultACL,
         auth: [String] = ChirpServer.allMethods) throws {
        directory = Paths.temporaryDirectory("bundled-chirp")
        root = directory + "/root"
        for dir in [root, directory + "/challenge"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try acl.write(toFile: directory + "/acl", atomically: false, encoding: .utf8)
        let portFile = directory + "/port"
        var argv = [Paths.parrot, "chirp-server", "--root", root, "--port", "0", "--port-file", portFile,
                    "--default-acl", directory + "/acl", "--inherit-default-acl",
                    "--challenge-dir", directory + "/challenge", "--parent-death"]
        argv += auth.flatMap { ["--auth", $0] } + arguments
        do {
            pid = try ChirpServer.spawn(argv, log: directory + "/server.log")
            port = try waitForPort(portFile)
        } catch {
            finish()
            throw error
        }
    }

    /// The port file appears once the server listens (written whole, then renamed).
    private func waitForPort(_ portFile: String) throws -> UInt16 {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw ChirpServerError("parrot chirp-server exited at start: \(log)")
            }
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let number = UInt16(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return number
            }
            usleep(10_000)
        }
        throw ChirpServerError("parrot chirp-server did not start listening: \(log)")
    }

    /// Exactly the requested mode: the server clears its umask.
    func createdMode(_ mode: mode_t) -> mode_t { mode & 0o777 }

    /// The server works as the test's own user.
    func own(_ path: String) {}

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(5)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(5_000)
        }
        pid = 0
    }

    func finish() {
        stop()
        Paths.remove(directory)
    }

    var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }
}
