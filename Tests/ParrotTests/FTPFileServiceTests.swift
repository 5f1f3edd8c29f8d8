import Foundation
import ParrotFTP
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The FTP driver against real servers (pyftpdlib with MLST, the same
/// behind TLS, vsftpd without MLST): transfers, streaming, round trips.
@Suite struct FTPFileServiceTests {
    static func service(_ server: FTPTestServer, user: String? = nil, password: String? = nil,
                        trusted: Bool = true, warn: @escaping @Sendable (String) -> Void = { _ in }) throws -> FTPFileService {
        var options = FTPOptions()
        options.caFile = trusted ? server.caFile : nil
        options.environmentPassword = password
        options.stallTimeout = 10
        options.warn = warn
        return try FTPFileService(authority: server.authority(user: user), secure: server.secure, options: options)
    }

    @Test(arguments: FTPTestServer.Kind.allCases)
    func wholeFilesBothWays(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            let bytes = [UInt8].random(count: 3 << 20 + 777)
            server.write("/big.bin", bytes)
            let service = try Self.service(server)
            let work = Paths.temporaryDirectory("ftp-files")
            defer { Paths.remove(work) }
            #expect(try service.getFile(server.top + "/big.bin", to: work + "/got") == Int64(bytes.count))
            #expect(md5sum(work + "/got") == md5sum(server.local("/big.bin")))
            #expect(try service.putFile(work + "/got", to: server.top + "/back.bin", mode: 0o644) == Int64(bytes.count))
            #expect(md5sum(server.local("/back.bin")) == md5sum(work + "/got"))
            #expect(try service.stat(server.top + "/back.bin").size == Int64(bytes.count))
            // An empty file both ways.
            server.write("/empty", "")
            #expect(try service.getFile(server.top + "/empty", to: work + "/empty") == 0)
            #expect(try service.putFile(work + "/empty", to: server.top + "/empty2", mode: 0o644) == 0)
            #expect(FileManager.default.fileExists(atPath: server.local("/empty2")))
            // One after the other, every operation reused the one control connection.
            #expect(service.connectionsOpened == 1)
        }
    }

    @Test(arguments: FTPTestServer.Kind.allCases)
    func streamsReadsAndAbortsForOtherOffsets(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            let bytes = [UInt8].random(count: 1 << 20)
            server.write("/r.bin", bytes)
            let service = try Self.service(server)
            let handle = try service.open(server.top + "/r.bin", flags: O_RDONLY, mode: 0)
            // Sequential reads continue one RETR: a handful of commands for all of them.
            let before = service.commandsSent
            var offset = 0
            while offset < 256 << 10 {
                #expect(try service.pread(handle, count: 16 << 10, at: Int64(offset)) == Array(bytes[offset..<(offset + 16 << 10)]))
                offset += 16 << 10
            }
            #expect(service.commandsSent - before <= 3, "one EPSV and one RETR for 16 sequential reads")
            // Elsewhere: aborted and restarted with REST, both ways.
            for start in [900_000, 10, (1 << 20) - 5, 500_000] {
                let got = try service.pread(handle, count: 100, at: Int64(start))
                #expect(got == Array(bytes[start..<min(start + 100, bytes.count)]), "at \(start)")
            }
            #expect(try service.pread(handle, count: 10, at: Int64(bytes.count)) == [])
            #expect(try service.read(handle, count: 10) == Array(bytes[0..<10]))
            try service.close(handle)
            // The connection is still usable after the aborts.
            #expect(try service.stat(server.top + "/r.bin").size == Int64(bytes.count))
        }
    }

    @Test(arguments: FTPTestServer.Kind.allCases)
    func streamsWritesSequentially(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            let service = try Self.service(server)
            let path = server.top + "/w.txt"
            let handle = try service.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            #expect(FileManager.default.fileExists(atPath: server.local("/w.txt")), "created at the open")
            try service.write(handle, "one ")
            try service.pwrite(handle, Array("two ".utf8), at: 4)
            #expect(thrownErrno { try service.pwrite(handle, Array("x".utf8), at: 1) } == ESPIPE)
            try service.close(handle)
            #expect(localContents(server.local("/w.txt")) == "one two ")
            // O_APPEND adds at the end; so does a plain open writing at the end.
            let appending = try service.open(path, flags: O_WRONLY | O_APPEND, mode: 0)
            try service.write(appending, "three ")
            try service.close(appending)
            let plain = try service.open(path, flags: O_WRONLY, mode: 0)
            #expect(thrownErrno { try service.pwrite(plain, Array("x".utf8), at: 0) } == ENOTSUP)
            #expect(thrownErrno { try service.pwrite(plain, Array("x".utf8), at: 100) } == ESPIPE)
            try service.pwrite(plain, Array("four".utf8), at: 14)
            try service.close(plain)
            #expect(localContents(server.local("/w.txt")) == "one two three four")
            #expect(try service.stat(path).size == 18)
        }
    }

    @Test(arguments: FTPTestServer.Kind.allCases)
    func statusListingsAndNames(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            server.write("/dir/a.txt", "abc")
            server.write("/dir/.hidden", "h")
            server.write("/dir/with space.txt", "s")
            server.mkdir("/dir/sub")
            let service = try Self.service(server)
            let dir = server.top + "/dir"
            let names = try service.readdir(dir).map(\.name).sorted()
            #expect(names == [".hidden", "a.txt", "sub", "with space.txt"])
            let status = try service.stat(dir + "/a.txt")
            #expect(status.isRegularFile && status.size == 3)
            let local = localStatus(server.local("/dir/a.txt"))
            #expect(status.mtime.seconds == local.mtime.seconds)
            #expect(try service.stat(dir + "/sub").isDirectory)
            #expect(try service.stat(dir + "/with space.txt").size == 1)
            // mkdir, rename, unlink, rmdir.
            try service.mkdir(dir + "/new", mode: 0o755)
            try service.rename(dir + "/a.txt", to: dir + "/new/b.txt")
            #expect(localContents(server.local("/dir/new/b.txt")) == "abc")
            try service.unlink(dir + "/new/b.txt")
            try service.rmdir(dir + "/new")
            #expect(!FileManager.default.fileExists(atPath: server.local("/dir/new")))
            if kind == .vsftpd {
                // vsftpd changes modes for local users only.
                #expect(thrownErrno { try service.chmod(dir + "/with space.txt", mode: 0o600) } == EPERM)
            } else {
                try service.chmod(dir + "/with space.txt", mode: 0o600)
                #expect(localStatus(server.local("/dir/with space.txt")).mode & 0o777 == 0o600)
            }
            try service.utimes(dir + "/.hidden", access: Timestamp(seconds: 1_000_000_000), modification: Timestamp(seconds: 1_000_000_000))
            #expect(localStatus(server.local("/dir/.hidden")).mtime.seconds == 1_000_000_000)
        }
    }

    /// With MLST a stat is one command (the target: at most 2 round trips).
    @Test func statIsOneRoundTripWithMLST() throws {
        try withFTPServer(.pyftpdlib) { server in
            server.write("/f", "x")
            let service = try Self.service(server)
            _ = try service.stat("/f")  // logs in
            let before = service.commandsSent
            for _ in 0..<5 { _ = try service.stat("/f") }
            #expect(service.commandsSent - before == 5)
            // A missing name: MLST, then whether its parent is a directory
            // (ENOENT or ENOTDIR); the parent's answer is kept for a second.
            server.mkdir("/d")
            let missing = service.commandsSent
            #expect(thrownErrno { try service.stat("/d/none") } == ENOENT)
            #expect(service.commandsSent - missing == 2)
            #expect(thrownErrno { try service.stat("/d/other") } == ENOENT)
            #expect(service.commandsSent - missing == 3)
            #expect(thrownErrno { try service.stat("/f/under") } == ENOTDIR)
        }
    }

    /// A server that drops idle connections (vsftpd's idle_session_timeout:
    /// 421 and close): the next operation logs in again and works.
    @Test func reconnectsAfterTheServerDropsAnIdleConnection() throws {
        try withFTPServer(.vsftpd, idleTimeout: 1) { server in
            server.write("/f", "x")
            let service = try Self.service(server)
            #expect(try service.stat(server.top + "/f").size == 1)
            #expect(service.connectionsOpened == 1)
            usleep(1_500_000)
            #expect(try service.stat(server.top + "/f").size == 1)
            try service.mkdir(server.top + "/d", mode: 0o755)
            #expect(service.connectionsOpened == 2)
        }
    }

    @Test func serverDyingMidTransferIsAnErrorNotAHang() throws {
        try withFTPServer(.pyftpdlib) { server in
            server.write("/x.cut", [UInt8].random(count: 4 << 20))
            let service = try Self.service(server)
            let work = Paths.temporaryDirectory("ftp-cut")
            defer { Paths.remove(work) }
            let start = Date()
            let code = thrownErrno { try service.getFile("/x.cut", to: work + "/x") }
            #expect(code != nil && code != -1)
            #expect(Date().timeIntervalSince(start) < 8)
        }
    }

    @Test(arguments: [FTPTestServer.Kind.pyftpdlib, .pyftpdlibTLS])
    func wrongPasswordIsEACCESSaidOnce(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            let warnings = WarningLog()
            let service = try Self.service(server, user: "alice", password: "wrong", warn: warnings.add)
            for _ in 0..<2 {
                do {
                    _ = try service.stat("/")
                    Issue.record("a wrong password logged in")
                } catch let error as ServiceError {
                    #expect(error.errno == EACCES)
                    #expect(error.message.contains("alice") && error.message.contains("530"), "\(error.message)")
                }
            }
            #expect(warnings.lines.count == 1)
            #expect(try Self.service(server, user: "alice", password: "secret").stat("/").isDirectory)
        }
    }

    @Test(arguments: [FTPTestServer.Kind.pyftpdlibTLS, .vsftpd])
    func untrustedCertificateIsRefused(kind: FTPTestServer.Kind) throws {
        try withFTPServer(kind) { server in
            let warnings = WarningLog()
            var options = FTPOptions()
            options.warn = warnings.add
            let service = try FTPFileService(authority: server.authority(), secure: true, options: options)
            for _ in 0..<2 {
                do {
                    _ = try service.stat(server.top)
                    Issue.record("an untrusted certificate was accepted")
                } catch let error as ServiceError {
                    #expect(error.errno == EACCES)
                    #expect(error.message.contains("self-signed certificate"), "\(error.message)")
                }
            }
            #expect(warnings.lines.count == 1 && warnings.lines[0].contains("--ca-file"), "\(warnings.lines)")
        }
    }

    /// Port 990 is implicit TLS (the handshake before the greeting).
    @Test(.enabled(if: getuid() == 0 && !LoopbackPort.accepts(990), "binds 127.0.0.1:990"))
    func implicitTLSOnPort990() throws {
        let server = try FTPTestServer(.vsftpd, implicitTLS: true)
        defer { server.finish() }
        server.write("/i.txt", "implicit\n")
        var options = FTPOptions()
        options.caFile = server.caFile
        let service = try FTPFileService(authority: "127.0.0.1", secure: true, options: options)
        let handle = try service.open("/pub/i.txt", flags: O_RDONLY, mode: 0)
        #expect(text(try service.read(handle, count: 100)) == "implicit\n")
        try service.close(handle)
        // In the clear the server says nothing (it waits for a TLS hello): a timeout.
        var plain = FTPOptions()
        plain.stallTimeout = 0.5
        #expect(thrownErrno { try FTPFileService(authority: "127.0.0.1:990", secure: false, options: plain).stat("/pub") } == ETIMEDOUT)
    }

    /// vsftpd requires data connections to resume the control connection's
    /// TLS session (require_ssl_reuse=YES by default).
    @Test func explicitTLSWithVsftpdReusesTheSession() throws {
        try withFTPServer(.vsftpd) { server in
            let bytes = [UInt8].random(count: 1 << 20)
            server.write("/s.bin", bytes)
            var options = FTPOptions()
            options.caFile = server.caFile
            let service = try FTPFileService(authority: server.authority(), secure: true, options: options)
            let work = Paths.temporaryDirectory("ftps-vsftpd")
            defer { Paths.remove(work) }
            #expect(try service.getFile("/pub/s.bin", to: work + "/s") == Int64(bytes.count))
            #expect(try service.putFile(work + "/s", to: "/pub/t.bin", mode: 0o644) == Int64(bytes.count))
            #expect(md5sum(server.local("/t.bin")) == md5sum(server.local("/s.bin")))
        }
    }
}

final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    var add: @Sendable (String) -> Void { { [self] line in lock.withLock { stored.append(line) } } }
}
