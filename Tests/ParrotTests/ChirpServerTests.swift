import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `parrot chirp-server` on the wire: exact result codes, rights, confinement
/// to the root, and robustness against malformed input.
@Suite struct ChirpServerTests {
    /// Each errno reaches the client as the reference server's code (protocols/chirp.md §8).
    @Test func failuresCarryTheReferenceServersCodes() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        server.makeDirectory("/full")
        server.write("/full/f", "x")
        server.write("/file", "0123456789")
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        let cases: [(String, Int64)] = [
            ("stat /missing", -3),           // ENOENT
            ("mkdir /full 493", -4),         // EEXIST
            ("rmdir /full", -15),            // ENOTEMPTY
            ("open /full w 0", -13),         // EISDIR
            ("getfile /full", -13),          // EISDIR
            ("stat /file/x", -14),           // ENOTDIR
            ("close 7", -12),                // EBADF
            ("fstat 0", -12),                // EBADF
            ("readlink /file 100", -8),      // EINVAL: not a symlink
            ("truncate /file -1", -8),       // EINVAL
            ("frobnicate /x", -8),           // unknown command, as the reference server answers
            ("read 0 10", -8),               // the old spec's commands do not exist
            ("getxattr /file user.x", -23),  // known, not offered here
            ("stat", -8),                    // missing argument
            ("pread x 1 0", -8),             // not a number
            ("unlink /missing", -3),
            ("rename /missing /other", -3),
            ("hash crc32 /file", -8),
            ("getfile /.__acl", -2),         // the server's own files are out of reach
        ]
        for (line, code) in cases {
            #expect(try client.request(line) == code, "\(line)")
        }
        let name = String(repeating: "n", count: 300)
        #expect(try client.request("mkdir /\(name) 493") == -24)  // ENAMETOOLONG
        #expect(try client.request("stat /") == 0)
        _ = try client.line()
    }

    @Test func openReadWriteAndDescriptorsAreLowestFreeFirst() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        #expect(try client.request("open /a rwc 420") == 0)
        _ = try client.line()  // stat line
        #expect(try client.request("open /b rwc 384") == 1)
        _ = try client.line()
        try client.send("pwrite 0 5 0\nhello")
        #expect(try client.line() == "5")
        #expect(try client.request("pread 0 100 1") == 4)
        #expect(try client.bytes(4) == Array("ello".utf8))
        #expect(try client.request("close 0") == 0)
        #expect(try client.request("open /a r 0") == 0)  // slot 0 is free again
        _ = try client.line()
        #expect(try client.request("fstat 1") == 0)
        let fields = try client.line().split(separator: " ")
        #expect(fields.count == 13 && Int(fields[2]) == Int(S_IFREG | 0o600))
        #expect(localContents(server.local("/a")) == "hello")
        #expect(localStatus(server.local("/a")).mode & 0o777 == 0o644)  // the requested mode, no umask
        #expect(try client.request("whoami 5") == 5)
        #expect(try client.bytes(5) == Array("addre".utf8))
    }

    /// Garbage, lies about lengths and overlong lines: the server answers or
    /// closes that connection, never hangs or dies, and serves others all along.
    @Test func malformedInputNeverHangsOrCrashesTheServer() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        server.write("/f", "data")
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        #expect(try client.request("pwrite 0 -5 0") == -8)
        #expect(try client.request("pread 0 -1 0") == -8)
        #expect(try client.request("putfile /big 420 -3") == -8)
        // Larger than any disk: refused before the client sends a byte.
        #expect(try client.request("putfile /huge 420 9223372036854775807") == -6)
        // A payload for a bad descriptor is read and dropped: the stream stays in step.
        try client.send("pwrite 9 4 0\nabcd")
        #expect(try client.line() == "-12")
        try client.send("setxattr /f user.x 3 0\nxyz")
        #expect(try client.line() == "-23")
        #expect(try client.request("open /f r 0") == 0)
        _ = try client.line()
        // pread asks for more than a transfer: capped to the file.
        #expect(try client.request("pread 0 9223372036854775807 0") == 4)
        #expect(try client.bytes(4) == Array("data".utf8))

        // A blank line is no request: nothing answers it (a random line of
        // spaces once waited here for the idle timeout).
        try client.send(" \t \n")
        #expect(try client.request("whoami 5") == 5)
        #expect(try client.bytes(5) == Array("addre".utf8))

        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var garbage = (0..<Int.random(in: 1...200, using: &generator)).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
            garbage[0] = UInt8.random(in: 0x21...0x7E, using: &generator)  // never blank
            try client.send(garbage + [UInt8(ascii: "\n")])
            let reply = try client.line()
            #expect(Int64(reply) != nil, "reply to garbage: \(reply)")
            // A random word that happens to be a valid request would have a payload to read.
            if let code = Int64(reply), code >= 0 { break }
        }
        // An overlong line closes the connection, as with the reference server.
        let long = try ChirpWireClient(port: server.port)
        try long.authenticate()
        try long.send("stat /" + String(repeating: "x", count: 5000) + "\n")
        #expect(long.isClosedByServer())

        // A client that promises a huge payload and leaves.
        let liar = try ChirpWireClient(port: server.port)
        try liar.authenticate()
        try liar.send("pwrite 0 1000000000000 0\nonly a few bytes")
        let binary = try ChirpWireClient(port: server.port)
        try binary.send((0..<4096).map { _ in UInt8.random(in: 0...255) })
        try checkStillServing(server)
    }

    private func checkStillServing(_ server: BundledChirpServer) throws {
        let fresh = try ChirpWireClient(port: server.port)
        try fresh.authenticate()
        #expect(try fresh.request("stat /f") == 0)
        var status: Int32 = 0
        #expect(waitpid(server.pid, &status, WNOHANG) == 0, "the server exited: \(server.log)")
    }

    /// `..`, absolute symlinks and symlinks leading out are refused (-2) or
    /// stay inside the root; nothing outside is read or written.
    @Test func pathsNeverLeaveTheRoot() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let outside = server.directory + "/outside"
        Paths.write("secret\n", to: outside + "/secret")
        server.symlink(outside + "/secret", at: "/absolute")
        server.symlink("../outside/secret", at: "/relative")
        server.symlink(outside, at: "/dirlink")
        server.makeDirectory("/in")
        server.write("/in/ok", "ok")
        server.symlink("in/ok", at: "/inside")
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        for line in ["getfile /absolute", "getfile /relative", "getfile /dirlink/secret", "open /relative r 0",
                     "stat /dirlink", "getdir /dirlink", "putfile /dirlink/new 420 0", "mkdir /dirlink/d 493",
                     "hash md5 /absolute", "truncate /relative 0", "chmod /absolute 511", "utime /relative 0 0"] {
            #expect(try client.request(line) == -2, "\(line)")
        }
        // `..` collapses at the root: this names <root>/outside/secret, which does not exist.
        #expect(try client.request("getfile /../outside/secret") == -3)
        #expect(try client.request("getfile /in/../../outside/secret") == -3)
        // lstat and readlink describe the link itself; unlink removes the link only.
        #expect(try client.request("lstat /absolute") == 0)
        _ = try client.line()
        #expect(try client.request("unlink /dirlink") == 0)
        #expect(try client.request("getfile /inside") == 2)
        #expect(try client.bytes(2) == Array("ok".utf8))
        #expect(localContents(outside + "/secret") == "secret\n")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: outside)) == ["secret"])
        var st = stat()
        #expect(stat(outside + "/secret", &st) == 0 && st.st_mode & 0o777 != 0o777)
    }

    /// Rights as cctools defines them: per directory, from `.__acl`.
    @Test func aclsGrantAndDeny() throws {
        let server = try BundledChirpServer(acl: "address:127.0.0.1 rwlda\n")
        defer { server.finish() }
        server.makeDirectory("/private")
        server.write("/private/f", "x")
        server.write("/private/.__acl", "unix:nobody rwlda\n")
        server.makeDirectory("/readable")
        server.write("/readable/f", "x")
        server.write("/readable/.__acl", "address:* rl\n")
        server.makeDirectory("/dropbox")
        server.write("/dropbox/.__acl", "address:127.0.0.1 p\n")
        server.makeDirectory("/reserve")
        server.write("/reserve/.__acl", "address:127.0.0.1 lv(rwl)\n")
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        #expect(try client.request("getdir /private") == -2)
        #expect(try client.request("getfile /private/f") == -2)
        #expect(try client.request("putfile /private/g 420 0") == -2)
        #expect(try client.request("unlink /private/f") == -2)
        // getacl is open to everyone, as in the reference server.
        #expect(try client.request("getacl /private") == 0)
        #expect(try client.line() == "unix:nobody rwldpa")
        #expect(try client.line() == "")
        #expect(try client.request("getfile /readable/f") == 1)
        _ = try client.bytes(1)
        #expect(try client.request("putfile /readable/g 420 0") == -2)
        #expect(try client.request("setacl /readable address:127.0.0.1 rwl") == -2)
        // p: create a new file, never replace one.
        try client.send("putfile /dropbox/new 420 3\n")
        #expect(try client.line() == "0")
        try client.send("abc")
        #expect(try client.line() == "3")
        #expect(try client.request("putfile /dropbox/new 420 0") == -4)
        #expect(try client.request("getfile /dropbox/new") == -2)
        // v(rwl): mkdir gives the maker a private ACL with those rights.
        #expect(try client.request("mkdir /reserve/mine 493") == 0)
        #expect(localContents(server.local("/reserve/mine/.__acl")) == "address:127.0.0.1 rwl\n")
        #expect(try client.request("putfile /reserve/other 420 0") == -2)
        // a: setacl, then the new right works; no rights removes the entry.
        #expect(try client.request("setacl / unix:alice rl") == 0)
        #expect(try client.request("setacl / address:127.0.0.1 rl") == 0)
        #expect(try client.request("mkdir /new 493") == -2)
        #expect(localContents(server.local("/.__acl")) == "address:127.0.0.1 rl\nunix:alice rl\n")
    }

    /// A directory holding only its ACL is empty to clients: a directory renamed
    /// onto it replaces it (as rmdir removes it), one with a file in it does not.
    @Test func aDirectoryRenamedOntoOneHoldingOnlyItsACLReplacesIt() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        for path in ["/from", "/from/in", "/onto", "/full", "/full/in"] {
            #expect(try client.request("mkdir \(path) 493") == 0)
        }
        #expect(FileManager.default.fileExists(atPath: server.local("/onto/.__acl")))
        #expect(try client.request("rename /from /full") == -15)  // ENOTEMPTY
        #expect(FileManager.default.fileExists(atPath: server.local("/from/in")))
        #expect(try client.request("rename /from /onto") == 0)
        #expect(FileManager.default.fileExists(atPath: server.local("/onto/in")))
        #expect(!FileManager.default.fileExists(atPath: server.local("/from")))
    }

    @Test func readOnlyServerGrantsOnlyReadAndList() throws {
        let server = try BundledChirpServer(["--read-only"])
        defer { server.finish() }
        server.write("/f", "x")
        let client = try ChirpWireClient(port: server.port)
        try client.authenticate()
        #expect(try client.request("getfile /f") == 1)
        _ = try client.bytes(1)
        for line in ["putfile /g 420 0", "mkdir /d 493", "unlink /f", "open /f w 0", "chmod /f 511", "setacl / unix:x rl"] {
            #expect(try client.request(line) == -2, "\(line)")
        }
        #expect(localContents(server.local("/f")) == "x")
    }

    @Test func idleConnectionsAreClosed() throws {
        let server = try BundledChirpServer(["--idle-timeout", "1"])
        defer { server.finish() }
        let client = try ChirpWireClient(port: server.port, timeout: 5)
        try client.authenticate()
        let start = Date()
        #expect(client.isClosedByServer())
        #expect(Date().timeIntervalSince(start) < 4)
    }

    /// Bad options end the command at once, with a message naming the option.
    @Test(arguments: [
        (["--root", "/nonexistent/dir"], "--root /nonexistent/dir: no such directory"),
        (["--root", "/", "--auth", "kerberos"], "--auth kerberos"),
        (["--root", "/", "--default-acl", "/nonexistent/acl"], "--default-acl /nonexistent/acl"),
        (["--root", "/", "--port", "70000"], "--port 70000"),
    ])
    func badOptionsAreRefused(_ arguments: [String], _ message: String) {
        let result = Command.run([Paths.parrot, "chirp-server"] + arguments, timeout: 30)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result)")
    }
}
