import Foundation
import ParrotFTP
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every row of the FTP error table (FTPErrorInterview) against real
/// servers: the refusal, the questions, the errno a local filesystem gives.
@Suite struct FTPErrorTests {
    struct Case: Sendable, CustomStringConvertible {
        var row: String  // the row's `why`, which the error message carries
        var errno: Int32
        var user: String? = nil
        var password: String? = nil
        var only: FTPTestServer.Kind? = nil  // users and refusals one server has
        var action: @Sendable (FileService, String, String) throws -> Void  // service, top, scratch dir
        var description: String { row }
    }

    /// Each case runs in a fresh `scratch` directory holding `file` (3 bytes),
    /// `dir/inner` and `empty/`.
    static let cases: [Case] = [
        Case(row: "reading a directory", errno: EISDIR) { s, _, d in _ = try s.getFile(d + "/dir", to: "/dev/null") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in _ = try s.getFile(d + "/missing", to: "/dev/null") },
        Case(row: "a path through a file", errno: ENOTDIR) { s, _, d in _ = try s.getFile(d + "/file/x", to: "/dev/null") },
        Case(row: "the name exists", errno: EEXIST) { s, _, d in try s.mkdir(d + "/dir", mode: 0o755) },
        Case(row: "writing a directory", errno: EISDIR) { s, _, d in _ = try s.putFile("/dev/null", to: d + "/dir", mode: 0o644) },
        Case(row: "the parent does not exist", errno: ENOENT) { s, _, d in try s.mkdir(d + "/no/new", mode: 0o755) },
        Case(row: "the parent is a file", errno: ENOTDIR) { s, _, d in _ = try s.putFile("/dev/null", to: d + "/file/new", mode: 0o644) },
        Case(row: "not a directory", errno: ENOTDIR) { s, _, d in try s.rmdir(d + "/file") },
        Case(row: "the directory has entries", errno: ENOTEMPTY) { s, _, d in try s.rmdir(d + "/dir") },
        Case(row: "unlink of a directory", errno: EISDIR) { s, _, d in try s.unlink(d + "/empty") },
        Case(row: "renaming onto a directory that has entries", errno: ENOTEMPTY) { s, _, d in try s.rename(d + "/empty", to: d + "/dir") },
        Case(row: "renaming a file onto a directory", errno: EISDIR) { s, _, d in try s.rename(d + "/file", to: d + "/empty") },
        Case(row: "renaming a directory onto a file", errno: ENOTDIR) { s, _, d in try s.rename(d + "/empty", to: d + "/file") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in try s.rename(d + "/missing", to: d + "/other") },
        Case(row: "the parent does not exist", errno: ENOENT) { s, _, d in try s.rename(d + "/file", to: d + "/no/file") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in try s.unlink(d + "/missing") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in try s.rmdir(d + "/missing") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in _ = try s.readdir(d + "/missing") },
        Case(row: "no such name", errno: ENOENT) { s, _, d in try s.chmod(d + "/missing", mode: 0o600) },
        // vsftpd lets anonymous users change no modes.
        Case(row: "the server refuses to change it", errno: EPERM, only: .vsftpd) { s, _, d in try s.chmod(d + "/file", mode: 0o600) },
        Case(row: "refused although the names are right", errno: EACCES, user: "reader", password: "readonly", only: .pyftpdlib) { s, _, d in
            _ = try s.putFile("/dev/null", to: d + "/new", mode: 0o644)
        },
        Case(row: "refused although the names are right", errno: EACCES, user: "reader", password: "readonly", only: .pyftpdlib) { s, _, d in
            try s.unlink(d + "/file")
        },
        Case(row: "the user's quota is used up", errno: EDQUOT, user: "quota", password: "quota", only: .pyftpdlib) { s, _, d in
            try putBig(s, d + "/big")
        },
        Case(row: "insufficient storage (452) or allocation exceeded (552)", errno: ENOSPC, user: "full", password: "full", only: .pyftpdlib) { s, _, d in
            try putBig(s, d + "/big")
        },
    ]

    static func putBig(_ service: FileService, _ path: String) throws {
        let local = Paths.temporaryDirectory("ftp-big") + "/big"
        defer { Paths.remove((local as NSString).deletingLastPathComponent) }
        FileManager.default.createFile(atPath: local, contents: Data(count: 1 << 20))
        _ = try service.putFile(local, to: path, mode: 0o644)
    }

    @Test(arguments: [FTPTestServer.Kind.pyftpdlib, .vsftpd])
    func everyRowAgainstTheServer(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            for (index, test) in Self.cases.enumerated() where test.only == nil || test.only == kind {
                let scratch = "/case\(index)"
                server.write(scratch + "/file", "abc")
                server.write(scratch + "/dir/inner", "i")
                server.mkdir(scratch + "/empty")
                var options = FTPOptions()
                options.environmentPassword = test.password
                let service = try FTPFileService(authority: server.authority(user: test.user), secure: false, options: options)
                do {
                    try test.action(service, server.top, server.top + scratch)
                    Issue.record("\(kind) \(test): succeeded")
                } catch let error as ServiceError {
                    #expect(error.errno == test.errno && error.message.contains("(\(test.row))"),
                            "\(kind) \(test): \(String(cString: strerror(error.errno))) \(error.message)")
                }
            }
        }
    }

}
