import Foundation
import ParrotChirp
import ParrotServices
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Each operation against Debian's chirp_server and against the bundled
/// `parrot chirp-server`, checked against the server's own files on the local disk.
@Suite struct ChirpFileServiceTests {
    @Test(arguments: ChirpServerKind.allCases) func statAndLstatGiveEveryFieldOfTheServersFiles(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/hello.txt", "hello chirp world\n")
            server.makeDirectory("/sub")
            server.symlink("hello.txt", at: "/link")
            let chirp = server.service()
            for path in ["/hello.txt", "/sub", "/link", "/"] {
                expectSameStatus(try chirp.stat(path), localStatus(server.local(path), follow: true), "stat \(path)")
                expectSameStatus(try chirp.lstat(path), localStatus(server.local(path)), "lstat \(path)")
            }
            #expect(try chirp.lstat("/link").isSymbolicLink)
            #expect(try chirp.stat("/link").isRegularFile)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func openReadWritePreadPwriteClose(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let chirp = server.service()
            let handle = try chirp.open("/rw.txt", flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o640)
            #expect(try chirp.write(handle, "hello ") == 6)
            #expect(try chirp.write(handle, "world") == 5)
            #expect(try chirp.pwrite(handle, Array("HELLO".utf8), at: 0) == 5)
            #expect(try chirp.read(handle, count: 10).isEmpty)  // the offset is at the end
            #expect(text(try chirp.pread(handle, count: 5, at: 6)) == "world")
            #expect(text(try chirp.pread(handle, count: 100, at: 0)) == "HELLO world")
            #expect(try chirp.pread(handle, count: 10, at: 1000).isEmpty)
            let status = try chirp.fstat(handle)
            // chirp_server runs with umask 077: 0640 becomes 0600.
            #expect(status.size == 11 && status.mode & 0o777 == server.createdMode(0o640))
            expectSameStatus(status, localStatus(server.local("/rw.txt")), "fstat")
            try chirp.close(handle)
            #expect(thrownErrno { try chirp.close(handle) } == EBADF)
            #expect(thrownErrno { try chirp.fstat(handle) } == EBADF)
            #expect(localContents(server.local("/rw.txt")) == "HELLO world")

            let appender = try chirp.open("/rw.txt", flags: O_WRONLY | O_APPEND, mode: 0)
            try chirp.write(appender, "!")
            try chirp.write(appender, "?")
            try chirp.close(appender)
            #expect(localContents(server.local("/rw.txt")) == "HELLO world!?")

            let reader = try chirp.open("/rw.txt", flags: O_RDONLY, mode: 0)
            #expect(text(try chirp.read(reader, count: 4)) == "HELL")
            #expect(text(try chirp.read(reader, count: 100)) == "O world!?")
            #expect(try chirp.read(reader, count: 100).isEmpty)
            try chirp.close(reader)
        }
    }

    /// Larger than one protocol transfer (16 MiB), so pread and pwrite loop.
    @Test(arguments: ChirpServerKind.allCases) func largeRandomFileRoundTripsWithChecksums(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let chirp = server.service()
            let bytes = [UInt8].random(count: 20 << 20)
            let handle = try chirp.open("/big", flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            #expect(try chirp.pwrite(handle, bytes, at: 0) == bytes.count)
            try chirp.close(handle)
            let digest = md5sum(server.local("/big"))
            #expect(try chirp.checksum("/big", algorithm: .md5).hex == digest)
            let sha1 = String(Command.run(["/usr/bin/sha1sum", server.local("/big")]).stdout.prefix(40))
            #expect(try chirp.checksum("/big", algorithm: .sha1).hex == sha1)

            let reader = try chirp.open("/big", flags: O_RDONLY, mode: 0)
            #expect(try chirp.pread(reader, count: bytes.count + 100, at: 0) == bytes)
            try chirp.close(reader)

            let scratch = Paths.temporaryDirectory("chirp-local")
            defer { Paths.remove(scratch) }
            #expect(try chirp.getFile("/big", to: scratch + "/copy") == Int64(bytes.count))
            #expect(md5sum(scratch + "/copy") == digest)
            #expect(try chirp.putFile(scratch + "/copy", to: "/back", mode: 0o600) == Int64(bytes.count))
            #expect(md5sum(server.local("/back")) == digest)
            #expect(localStatus(server.local("/back")).mode & 0o777 == 0o600)
            // Nothing is created locally for a file the server does not have.
            #expect(thrownErrno { try chirp.getFile("/missing", to: scratch + "/none") } == ENOENT)
            #expect(access(scratch + "/none", F_OK) != 0)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func readdirListsNamesWithTheirLstat(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/a", "a")
            server.write("/b c", "b c")
            server.makeDirectory("/d")
            server.symlink("a", at: "/l")
            let entries = try server.service().readdir("/")
            // The server hides its own `.__` files.
            #expect(Set(entries.map(\.name)) == [".", "..", "a", "b c", "d", "l"])
            for entry in entries where entry.name != ".." {
                let status = try #require(entry.status)
                expectSameStatus(status, localStatus(server.local("/" + entry.name)), entry.name)
            }
            let local = try LocalFileService().readdir(server.root)
            #expect(Set(local.map(\.name)).subtracting([".__uuid"]) == Set(entries.map(\.name)))
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func mkdirAndRmdir(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let chirp = server.service()
            try chirp.mkdir("/new", mode: 0o750)
            #expect(localStatus(server.local("/new")).isDirectory)
            #expect(localStatus(server.local("/new")).mode & 0o777 == server.createdMode(0o750))
            #expect(thrownErrno { try chirp.mkdir("/new", mode: 0o755) } == EEXIST)
            try chirp.mkdir("/new/inner", mode: 0o755)
            #expect(thrownErrno { try chirp.rmdir("/new") } == ENOTEMPTY)
            try chirp.rmdir("/new/inner")
            try chirp.rmdir("/new")
            #expect(access(server.local("/new"), F_OK) != 0)
            #expect(thrownErrno { try chirp.mkdir("/no/such/parent", mode: 0o755) } == ENOENT)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func renameLinkUnlink(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/a", "data")
            let chirp = server.service()
            try chirp.rename("/a", to: "/b")
            #expect(access(server.local("/a"), F_OK) != 0)
            #expect(localContents(server.local("/b")) == "data")
            try chirp.link("/b", to: "/c")
            #expect(try chirp.stat("/c").nlink == 2)
            #expect(try chirp.stat("/c").ino == localStatus(server.local("/b")).ino)
            try chirp.unlink("/b")
            #expect(access(server.local("/b"), F_OK) != 0)
            #expect(try chirp.stat("/c").nlink == 1)
            try chirp.unlink("/c")
            #expect(thrownErrno { try chirp.unlink("/c") } == ENOENT)
            #expect(thrownErrno { try chirp.rename("/c", to: "/d") } == ENOENT)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func symlinkAndReadlink(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/hello.txt", "hi")
            let chirp = server.service()
            try chirp.symlink(target: "hello.txt", at: "/l")
            try chirp.symlink(target: "100%.txt", at: "/percent")
            #expect(try chirp.readlink("/l") == "hello.txt")
            #expect(try LocalFileService().readlink(server.local("/l")) == "hello.txt")
            // Stored as sent: the server does not decode link targets.
            #expect(try LocalFileService().readlink(server.local("/percent")) == "100%.txt")
            #expect(try chirp.readlink("/percent") == "100%.txt")
            #expect(try chirp.stat("/l").size == 2)
            #expect(thrownErrno { try chirp.symlink(target: "x", at: "/l") } == EEXIST)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func truncateChmodUtimesChownAccess(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/f", "0123456789")
            let chirp = server.service()
            try chirp.truncate("/f", length: 3)
            #expect(localContents(server.local("/f")) == "012")
            try chirp.truncate("/f", length: 8)
            #expect(localStatus(server.local("/f")).size == 8)
            try chirp.chmod("/f", mode: 0o604)
            #expect(localStatus(server.local("/f")).mode & 0o7777 == 0o604)
            try chirp.utimes("/f", access: Timestamp(seconds: 1000), modification: Timestamp(seconds: 2_000_000_000))
            let status = localStatus(server.local("/f"))
            #expect(status.atime == Timestamp(seconds: 1000) && status.mtime == Timestamp(seconds: 2_000_000_000))
            // Accepted and ignored by the server.
            let owner = status.uid
            try chirp.chown("/f", uid: 12345, gid: 12345)
            #expect(localStatus(server.local("/f")).uid == owner)
            try chirp.access("/f", mode: R_OK | W_OK)
            try chirp.access("/f", mode: F_OK)
            #expect(thrownErrno { try chirp.access("/missing", mode: F_OK) } == ENOENT)
        }
    }

    @Test(arguments: ChirpServerKind.allCases) func statfsDescribesTheServersFilesystem(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let remote = try server.service().statfs("/")
            let local = try LocalFileService().statfs(server.root)
            #expect(remote.type == local.type && remote.blockSize == local.blockSize && remote.blocks == local.blocks)
            #expect(remote.files == local.files)
            // Others may be writing to the same disk meanwhile.
            #expect(abs(remote.freeBlocks - local.freeBlocks) < remote.blocks / 100 + 1000)
        }
    }

    /// The reference command-line client reads what this client wrote.
    @Test(arguments: ChirpServerKind.allCases) func referenceClientReadsWhatWasWritten(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let chirp = server.service()
            let handle = try chirp.open("/x y.txt", flags: O_WRONLY | O_CREAT, mode: 0o644)
            try chirp.write(handle, "written by Parrot\n")
            try chirp.close(handle)
            let scratch = Paths.temporaryDirectory("chirp-cli")
            defer { Paths.remove(scratch) }
            let result = Command.run(["chirp", "-a", "address", "127.0.0.1:\(server.port)", "get", "/x y.txt", scratch + "/got"], timeout: 30)
            #expect(result.status == 0, "\(result)")
            #expect(localContents(scratch + "/got") == "written by Parrot\n")
        }
    }
}
