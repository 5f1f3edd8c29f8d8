import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Debian's cctools programs (chirp, chirp_get, chirp_put, chirp_benchmark)
/// against `parrot chirp-server`.
@Suite struct ChirpInteropTests {
    /// `chirp -a METHOD 127.0.0.1:PORT COMMAND...`
    private func chirp(_ server: BundledChirpServer, _ arguments: String..., auth: String = "address") -> CommandResult {
        Command.run(["chirp", "-a", auth, server.address] + arguments, timeout: 60)
    }

    @Test func longListingShowsEveryEntry() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        server.write("/hello.txt", "hello chirp\n")
        server.makeDirectory("/sub")
        server.symlink("hello.txt", at: "/link")
        let result = chirp(server, "ls", "-la", "/")
        #expect(result.status == 0, "\(result)")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let byName = Dictionary(rows.compactMap { $0.last.map { (String($0), $0) } }, uniquingKeysWith: { a, _ in a })
        #expect(Set(byName.keys) == [".", "..", "hello.txt", "sub", "link"], "\(result.stdout)")
        let hello = try #require(rows.first { $0.last == "hello.txt" })
        #expect(hello.first == "-rw-r--r--" && hello.contains("12"))
        #expect(rows.first { $0.last == "sub" }?.first?.hasPrefix("d") == true)
        // The link's own lstat (9 bytes: "hello.txt"); chirp prints its type as `-`.
        let link = try #require(rows.first { $0.last == "link" })
        #expect(link.first?.hasSuffix("rwxrwxrwx") == true && link.contains("9"), "\(link)")
    }

    @Test func putAndGetAMultiMegabyteFileBothWays() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let scratch = Paths.temporaryDirectory("chirp-interop")
        defer { Paths.remove(scratch) }
        let original = scratch + "/random"
        FileManager.default.createFile(atPath: original, contents: Data([UInt8].random(count: 6 << 20 | 12345)))
        let digest = md5sum(original)
        let put = Command.run(["chirp_put", "-a", "address", original, server.address, "/dir-less copy"], timeout: 60)
        #expect(put.status == 0, "\(put)")
        #expect(md5sum(server.local("/dir-less copy")) == digest)
        server.write("/served", try [UInt8](Data(contentsOf: URL(fileURLWithPath: original))))
        let get = Command.run(["chirp_get", "-a", "address", server.address, "/served", scratch + "/got"], timeout: 60)
        #expect(get.status == 0, "\(get)")
        #expect(md5sum(scratch + "/got") == digest)
        let md5 = chirp(server, "md5", "/served")
        #expect(md5.stdout.lowercased().hasPrefix(digest), "\(md5)")
    }

    @Test func mkdirMoveAndRemove() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        server.write("/file", "contents")
        #expect(chirp(server, "mkdir", "/dir").status == 0)
        #expect(localStatus(server.local("/dir")).isDirectory)
        #expect(chirp(server, "mv", "/file", "/dir/moved").status == 0)
        #expect(localContents(server.local("/dir/moved")) == "contents")
        #expect(access(server.local("/file"), F_OK) != 0)
        #expect(chirp(server, "rm", "/dir/moved").status == 0)
        #expect(chirp(server, "rm", "/dir").status == 0)
        #expect(access(server.local("/dir"), F_OK) != 0)
    }

    @Test func deniedAndMissingFilesGiveTheRightMessages() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        server.makeDirectory("/private")
        server.write("/private/secret", "s")
        server.write("/private/.__acl", "unix:nobody rwlda\n")
        let scratch = Paths.temporaryDirectory("chirp-denied")
        defer { Paths.remove(scratch) }
        let denied = chirp(server, "cat", "/private/secret")
        #expect(denied.stderr.contains("Permission denied"), "\(denied)")
        Paths.write("x", to: scratch + "/x")
        let put = chirp(server, "put", scratch + "/x", "/private/x")
        #expect(put.status != 0 && put.stderr.contains("Permission denied"), "\(put)")
        #expect(access(server.local("/private/x"), F_OK) != 0)
        let missing = chirp(server, "cat", "/missing")
        #expect(missing.stderr.contains("No such file or directory"), "\(missing)")
        let escape = chirp(server, "cat", "/../../../../etc/passwd")
        #expect(escape.stderr.contains("No such file or directory") && !escape.stdout.contains("root:"), "\(escape)")
        server.symlink("/etc/passwd", at: "/out")
        let link = chirp(server, "cat", "/out")
        #expect(link.stderr.contains("Permission denied") && !link.stdout.contains("root:"), "\(link)")
    }

    @Test func readOnlyServerRefusesWrites() throws {
        let server = try BundledChirpServer(["--read-only"])
        defer { server.finish() }
        server.write("/f", "read me")
        let scratch = Paths.temporaryDirectory("chirp-ro")
        defer { Paths.remove(scratch) }
        #expect(chirp(server, "cat", "/f").stdout == "read me")
        Paths.write("x", to: scratch + "/x")
        let put = Command.run(["chirp_put", "-a", "address", scratch + "/x", server.address, "/x"], timeout: 60)
        #expect(put.status != 0 && put.stderr.contains("Permission denied"), "\(put)")
        #expect(chirp(server, "mkdir", "/d").stderr.contains("Permission denied"))
    }

    /// Each method gives the subject cctools defines.
    @Test func everyAuthenticationMethodNamesItsSubject() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
        #expect(chirp(server, "whoami", auth: "unix").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "unix:\(user)")
        #expect(chirp(server, "whoami", auth: "address").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "address:127.0.0.1")
        #expect(chirp(server, "whoami", auth: "hostname").stdout.hasPrefix("hostname:"))
    }

    @Test func chirpBenchmarkRuns() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let result = Command.run(["chirp_benchmark", server.address, "/bench", "5", "1", "1"], timeout: 120)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("write") || result.stderr.contains("write"), "\(result)")
    }

    /// Many clients at once, each a put and a get of its own file.
    @Test func concurrentClientsCopyWithoutError() throws {
        let server = try BundledChirpServer()
        defer { server.finish() }
        let scratch = Paths.temporaryDirectory("chirp-concurrent")
        defer { Paths.remove(scratch) }
        let clients = 24
        let source = scratch + "/source"
        FileManager.default.createFile(atPath: source, contents: Data([UInt8].random(count: 3 << 20)))
        let digest = md5sum(source)
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: clients) { index in
            let put = Command.run(["chirp_put", "-a", "address", source, server.address, "/copy\(index)"], timeout: 120)
            let get = Command.run(["chirp_get", "-a", "address", server.address, "/copy\(index)", scratch + "/back\(index)"], timeout: 120)
            if put.status != 0 || get.status != 0 { failures.add("client \(index): \(put) \(get)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        for index in 0..<clients {
            #expect(md5sum(server.local("/copy\(index)")) == digest)
            #expect(md5sum(scratch + "/back\(index)") == digest)
        }
    }
}

private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ failure: String) { lock.withLock { list.append(failure) } }
    var all: [String] { lock.withLock { list } }
}
