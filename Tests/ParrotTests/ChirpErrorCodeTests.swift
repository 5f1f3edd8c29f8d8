@testable import ParrotChirp
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One row of chirp.md §8 that Debian's chirp_server can be made to send.
struct ErrorRow: Sendable, CustomTestStringConvertible {
    let code: Int64
    let errno: Int32
    let situation: String
    /// Server options the situation needs.
    var serverArguments: [String] = []
    /// Sends the requests on a fresh connection and returns the result line
    /// that carries the code.
    let raw: @Sendable (ChirpChannel) throws -> String
    /// The same situation through the service; `map` turns a server path into
    /// the service's path. Nil where the service API cannot reach it.
    var operation: (@Sendable (any FileService, (String) -> String) throws -> Void)?
    /// A local filesystem gives the same errno in the same situation.
    var local = true

    var testDescription: String { "\(code) \(situation)" }

    static func request(_ request: ChirpRequest) -> @Sendable (ChirpChannel) throws -> String {
        { channel in
            try channel.send(request.bytes)
            return try channel.readLine()
        }
    }

    static let all: [ErrorRow] = [
        ErrorRow(code: -2, errno: EACCES, situation: "ACL without r",
                 raw: request(try! .open("/locked/secret", flags: "r", mode: 0)),
                 operation: { fs, map in _ = try fs.open(map("/locked/secret"), flags: O_RDONLY, mode: 0) }, local: false),
        ErrorRow(code: -2, errno: EACCES, situation: "ACL without w",
                 raw: request(try! .open("/locked/new", flags: "wc", mode: 0o644)),
                 operation: { fs, map in _ = try fs.open(map("/locked/new"), flags: O_WRONLY | O_CREAT, mode: 0o644) }, local: false),
        ErrorRow(code: -3, errno: ENOENT, situation: "missing file",
                 raw: request(try! .stat("/missing")),
                 operation: { fs, map in _ = try fs.stat(map("/missing")) }),
        ErrorRow(code: -4, errno: EEXIST, situation: "mkdir of an existing directory",
                 raw: request(try! .mkdir("/dir", mode: 0o755)),
                 operation: { fs, map in try fs.mkdir(map("/dir"), mode: 0o755) }),
        ErrorRow(code: -6, errno: ENOSPC, situation: "over the root quota", serverArguments: ["--root-quota=1M"],
                 raw: request(try! .putfile("/big", mode: 0o644, length: 2 << 20)),
                 operation: { fs, map in
                     let handle = try fs.open(map("/big"), flags: O_WRONLY | O_CREAT, mode: 0o644)
                     try fs.pwrite(handle, [UInt8](repeating: 1, count: 2 << 20), at: 0)
                     try fs.sync(handle)  // the write went ahead of its reply
                 }, local: false),
        ErrorRow(code: -7, errno: ENOMEM, situation: "xattr over 16 MiB",
                 raw: { channel in
                     let size = 17 << 20
                     try channel.send(Array("setxattr /file user.big \(size) 0\n".utf8))
                     try channel.send([UInt8](repeating: 0, count: size))
                     return try channel.readLine()
                 }, local: false),
        ErrorRow(code: -8, errno: EINVAL, situation: "readlink of a regular file",
                 raw: request(try! .readlink("/file", maxLength: 100)),
                 operation: { fs, map in _ = try fs.readlink(map("/file")) }),
        ErrorRow(code: -9, errno: EMFILE, situation: "too many open files on one connection",
                 raw: { channel in
                     for _ in 0..<5000 {
                         try channel.send(try ChirpRequest.open("/file", flags: "r", mode: 0).bytes)
                         let line = try channel.readLine()
                         if line.hasPrefix("-") { return line }
                         _ = try channel.readLine()
                     }
                     return "never refused"
                 },
                 operation: { fs, map in
                     for _ in 0..<5000 { _ = try fs.open(map("/file"), flags: O_RDONLY, mode: 0) }
                 }, local: false),
        ErrorRow(code: -12, errno: EBADF, situation: "close of a descriptor never opened",
                 raw: request(try! .close(77)), local: false),
        ErrorRow(code: -13, errno: EISDIR, situation: "reading a directory",
                 raw: request(try! .getfile("/dir")),
                 operation: { fs, map in
                     let handle = try fs.open(map("/dir"), flags: O_RDONLY, mode: 0)
                     defer { try? fs.close(handle) }
                     _ = try fs.pread(handle, count: 10, at: 0)
                 }),
        ErrorRow(code: -13, errno: EISDIR, situation: "unlink of a directory",
                 raw: request(try! .unlink("/dir")),
                 operation: { fs, map in try fs.unlink(map("/dir")) }),
        ErrorRow(code: -14, errno: ENOTDIR, situation: "a file used as a directory",
                 raw: request(try! .stat("/file/x")),
                 operation: { fs, map in _ = try fs.stat(map("/file/x")) }),
        ErrorRow(code: -14, errno: ENOTDIR, situation: "rmdir of a file",
                 raw: request(try! .rmdir("/file")),
                 operation: { fs, map in try fs.rmdir(map("/file")) }),
        ErrorRow(code: -15, errno: ENOTEMPTY, situation: "rmdir of a non-empty directory",
                 raw: request(try! .rmdir("/dir")),
                 operation: { fs, map in try fs.rmdir(map("/dir")) }),
        ErrorRow(code: -24, errno: ENAMETOOLONG, situation: "a name over NAME_MAX",
                 raw: request(try! .stat("/" + String(repeating: "n", count: 300))),
                 operation: { fs, map in _ = try fs.stat(map("/" + String(repeating: "n", count: 300))) }),
        // ELOOP has no code: the server sends UNKNOWN, where a local
        // filesystem would say ELOOP.
        ErrorRow(code: -127, errno: EIO, situation: "a symlink loop (ELOOP)",
                 raw: request(try! .stat("/loop")),
                 operation: { fs, map in _ = try fs.stat(map("/loop")) }, local: false),
    ]
}

@Suite struct ChirpErrorCodeTests {
    /// The server sends the code, the service throws the table's errno, and
    /// (where it applies) the local filesystem throws the same errno.
    @Test(arguments: ErrorRow.all)
    func serverCodeBecomesErrno(_ row: ErrorRow) throws {
        try withChirpServer(row.serverArguments) { server in
            server.write("/file", "hello")
            server.makeDirectory("/dir")
            server.write("/dir/inner", "x")
            server.symlink("loop", at: "/loop")
            server.makeDirectory("/locked")
            server.write("/locked/secret", "s")
            server.write("/locked/.__acl", "unix:* l\naddress:127.0.0.1 l\nhostname:* l\n")

            var options = ChirpOptions()
            options.authMethods = [.address]
            let connection = try ChirpConnection(host: "127.0.0.1", port: server.port, options: options, generation: 1)
            #expect(try row.raw(connection.channel) == String(row.code))
            #expect(ChirpErrorCode(result: row.code).errno == row.errno)

            if let operation = row.operation {
                #expect(thrownErrno { try operation(server.service(), { $0 }) } == row.errno, "chirp")
                if row.local {
                    #expect(thrownErrno { try operation(LocalFileService(), server.local) } == row.errno, "local")
                }
            }
        }
    }
}
