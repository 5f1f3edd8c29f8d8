import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real FTP server on 127.0.0.1 for one test, over a fresh directory:
/// pyftpdlib (Tests/Fixtures/ftpserver.py: users, a read-only login, full
/// disk and quota logins, a file that kills the server half way), the same
/// requiring TLS, or vsftpd (anonymous, writable `/pub`, explicit TLS
/// offered, no MLST: the LIST path of the driver). Certificates are
/// self-signed for 127.0.0.1, made by openssl for the test (`caFile`).
final class FTPTestServer: @unchecked Sendable {
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case pyftpdlib, pyftpdlibTLS, vsftpd
        var description: String { rawValue }
    }

    let kind: Kind
    let directory: String
    /// Where the files the tests use live (vsftpd: the writable /pub).
    let root: String
    private(set) var port: UInt16 = 0
    private let process = Process()

    var caFile: String { directory + "/cert.pem" }
    /// The writable area as a path under the agent; `user` logs in as that user.
    func base(user: String? = nil, secure: Bool? = nil) -> String {
        let tls = secure ?? (kind == .pyftpdlibTLS)
        return "/\(tls ? "ftps" : "ftp")/\(user.map { $0 + "@" } ?? "")127.0.0.1:\(port)\(kind == .vsftpd ? "/pub" : "")"
    }
    /// The service authority and the service path of the writable area.
    func authority(user: String? = nil) -> String { "\(user.map { $0 + "@" } ?? "")127.0.0.1:\(port)" }
    var top: String { kind == .vsftpd ? "/pub" : "" }
    var secure: Bool { kind == .pyftpdlibTLS }
    var hasMLST: Bool { kind != .vsftpd }
    var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    /// `idleTimeout`: vsftpd drops connections idle that long.
    /// `implicitTLS`: vsftpd on port 990 with implicit TLS (needs root).
    init(_ kind: Kind, idleTimeout: Double? = nil, implicitTLS: Bool = false) throws {
        self.kind = kind
        directory = Paths.temporaryDirectory("ftp-\(kind)")
        chmod(directory, 0o755)
        root = directory + (kind == .vsftpd ? "/root/pub" : "/root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try TestCertificate.make(key: directory + "/key.pem", certificate: caFile)
        FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/server.log"))
        process.standardOutput = logHandle
        process.standardError = logHandle
        switch kind {
        case .pyftpdlib, .pyftpdlibTLS:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [Paths.repository + "/Tests/Fixtures/ftpserver.py", root, directory + "/port"]
                + (kind == .pyftpdlibTLS ? ["--tls", caFile, directory + "/key.pem"] : [])
            try process.run()
            try waitForPortFile()
        case .vsftpd:
            port = implicitTLS ? 990 : LoopbackPort.free()
            try (vsftpdConfiguration(idleTimeout: idleTimeout) + (implicitTLS ? "implicit_ssl=YES\n" : "")).write(toFile: directory + "/vsftpd.conf", atomically: false, encoding: .utf8)
            // The anonymous login is chrooted: its root must not be writable, /pub is.
            chown(root, Self.ftpUser, 0)
            // With the signals the test runner blocks unblocked (vsftpd's idle timeout is SIGALRM).
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", cleanSignalsThenExec, "/usr/sbin/vsftpd", directory + "/vsftpd.conf"]
            try process.run()
            try waitForListener()
        }
    }

    static var ftpUser: uid_t { getpwnam("ftp")?.pointee.pw_uid ?? 0 }

    private func vsftpdConfiguration(idleTimeout: Double?) -> String {
        try? FileManager.default.createDirectory(atPath: directory + "/empty", withIntermediateDirectories: true)
        return """
            listen=YES
            listen_address=127.0.0.1
            listen_port=\(port)
            background=NO
            anonymous_enable=YES
            local_enable=NO
            no_anon_password=YES
            anon_root=\(directory)/root
            write_enable=YES
            anon_upload_enable=YES
            anon_mkdir_write_enable=YES
            anon_other_write_enable=YES
            anon_umask=022
            secure_chroot_dir=\(directory)/empty
            seccomp_sandbox=NO
            pasv_address=127.0.0.1
            xferlog_enable=NO
            syslog_enable=NO
            vsftpd_log_file=\(directory)/vsftpd.log
            ssl_enable=YES
            allow_anon_ssl=YES
            rsa_cert_file=\(caFile)
            rsa_private_key_file=\(directory)/key.pem
            idle_session_timeout=\(Int(idleTimeout ?? 300))

            """
    }

    private func waitForPortFile() throws {
        if let written = LoopbackPort.written(to: directory + "/port", by: process) {
            port = written
            return
        }
        finish()
        throw TestServerError("pyftpdlib did not start: \(log)")
    }

    private func waitForListener() throws {
        if LoopbackPort.accepted(port, by: process) { return }
        finish()
        throw TestServerError("vsftpd did not start: \(log)")
    }

    func local(_ path: String) -> String { root + path }

    func write(_ path: String, _ bytes: [UInt8]) {
        try! FileManager.default.createDirectory(atPath: (local(path) as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        precondition(FileManager.default.createFile(atPath: local(path), contents: Data(bytes)), "cannot write \(path)")
        // vsftpd's anonymous login works as the ftp user.
        if kind == .vsftpd { _ = Command.run(["chown", "-R", "ftp", root]) }
    }

    func write(_ path: String, _ text: String) { write(path, Array(text.utf8)) }

    func mkdir(_ path: String) {
        try! FileManager.default.createDirectory(atPath: local(path), withIntermediateDirectories: true)
        if kind == .vsftpd { _ = Command.run(["chown", "-R", "ftp", root]) }
    }

    func finish() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        Paths.remove(directory)
    }
}

func withFTPServer<T>(_ kind: FTPTestServer.Kind, idleTimeout: Double? = nil, _ body: (FTPTestServer) throws -> T) throws -> T {
    let server = try FTPTestServer(kind, idleTimeout: idleTimeout)
    defer { server.finish() }
    return try body(server)
}
