import Foundation
import ParrotChirp
#if canImport(Glibc)
import Glibc
#endif

/// Debian's chirp_server (coop-computing-tools) on 127.0.0.1, exporting a
/// fresh directory, for one test. It never advertises beyond loopback, and
/// `stop()` ends it and every process of its group (it makes its own group).
final class ChirpServer: ChirpTestServer, @unchecked Sendable {
    let directory: String
    let root: String
    private(set) var port: UInt16 = 0
    private(set) var pid: pid_t = 0
    private let extraArguments: [String]
    private let auth: [String]
    static let allMethods = ["unix", "hostname", "address"]

    /// Every local subject and loopback client may do anything; tests that
    /// need a denial write their own `.__acl` in a subdirectory.
    static let defaultACL = "unix:* rwlda\naddress:127.0.0.1 rwlda\nhostname:* rwlda\n"

    /// As root the server must drop to another uid for file access.
    static let fileOwner: uid_t? = {
        guard getuid() == 0 else { return nil }
        return getpwnam("nobody")?.pointee.pw_uid ?? 65534
    }()

    /// `auth`: the methods the server registers. With `--port-file` servers
    /// take the lowest free port from 1024 up, so one that crashes may see its
    /// port taken at once by another test's server: a test that restarts or
    /// crashes its server asks for a `privatePort` (from the kernel's
    /// ephemeral range, far from those) instead.
    init(_ arguments: [String] = [], auth: [String] = ChirpServer.allMethods, privatePort: Bool = false) throws {
        self.auth = auth
        directory = Paths.temporaryDirectory("chirp")
        root = directory + "/root"
        extraArguments = arguments
        for dir in [root, directory + "/transient", directory + "/challenge"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try ChirpServer.defaultACL.write(toFile: directory + "/acl", atomically: false, encoding: .utf8)
        own(root)
        own(directory + "/transient")
        // Servers started at the same moment may pick the same port and one
        // then fails to listen ("Address already in use"): try again.
        for attempt in 1...5 {
            do {
                try start(port: privatePort ? LoopbackPort.free() : nil)
                return
            } catch where attempt < 5 && log.contains("Address already in use") {
                usleep(UInt32.random(in: 10_000...50_000))
            } catch {
                Paths.remove(directory)
                throw error
            }
        }
    }

    /// chirp_server runs with umask 077.
    func createdMode(_ mode: mode_t) -> mode_t { mode & 0o700 }

    /// Files the tests make for the server belong to the uid it runs as.
    func own(_ path: String) {
        if let uid = ChirpServer.fileOwner { lchown(path, uid, uid) }
    }

    /// Starts the server, on `port` if given (a restart), else on any free one.
    func start(port requested: UInt16?) throws {
        let executable = try ChirpServer.executable()
        var arguments = [executable,
                         "--root=" + root, "--interface=127.0.0.1",
                         "--advertise=127.0.0.1", "--catalog-name=localhost",
                         "--default-acl=" + directory + "/acl", "--inherit-default-acl",
                         "--transient=" + directory + "/transient",
                         // Exits if this test process dies: no orphan servers even after a crash.
                         "--parent-death",
                         "--challenge-dir=" + directory + "/challenge"]
        arguments += auth.map { "--auth=" + $0 }
        if let uid = ChirpServer.fileOwner { arguments.append("--user=\(uid)") }
        let portFile = directory + "/port"
        unlink(portFile)
        try? FileManager.default.removeItem(atPath: directory + "/server.log")
        arguments += requested.map { ["--port=\($0)"] } ?? ["--port-file=" + portFile]
        pid = try ChirpServer.spawn(arguments + extraArguments, log: directory + "/server.log")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw ChirpServerError("chirp_server exited at start: \(log)")
            }
            if let requested {
                if LoopbackPort.accepts(requested) { port = requested; return }
            } else if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                      let number = UInt16(text.trimmingCharacters(in: .whitespacesAndNewlines)), number > 0 {
                port = number
                return
            }
            usleep(10_000)
        }
        stop()
        throw ChirpServerError("chirp_server did not start listening: \(log)")
    }

    /// Kills the server and everything of its process group at once, as a
    /// crash would: connections break without a goodbye.
    func crash() {
        guard pid > 0 else { return }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// SIGTERM, then SIGKILL to the group: on SIGTERM the server leaves a
    /// helper behind for a few seconds, and per-connection children may linger.
    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(3)
        while waitpid(pid, &status, WNOHANG) == 0 && Date() < deadline { usleep(5_000) }
        kill(-pid, SIGKILL)
        waitpid(pid, &status, WNOHANG)
        pid = 0
    }

    /// Stops the server and removes its directory.
    func finish() {
        stop()
        Paths.remove(directory)
    }

    var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    static func executable() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/chirp_server"
            if access(path, X_OK) == 0 { return path }
        }
        throw ChirpServerError("chirp_server not found: install coop-computing-tools (scripts/ensure-deps.sh)")
    }

    /// posix_spawn with an empty signal mask and default dispositions (the
    /// test runner's threads block signals, and exec would keep that mask),
    /// output to `log`, input from /dev/null.
    static func spawn(_ argv: [String], log: String) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, &attributes, &cArguments, environ)
        guard status == 0 else { throw ChirpServerError("cannot start \(argv[0]): \(String(cString: strerror(status)))") }
        return pid
    }
}

struct ChirpServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
