import Foundation
import Testing
import ParrotServices
@testable import ParrotAgent
#if canImport(Glibc)
import Glibc
#endif

/// Read-ahead on streamed remote files: the logic on a real local file
/// (every fetch counted), then real programs under the agent on real servers.
@Suite struct ReadAheadTests {
    /// A local file of `size` random bytes, read through ReadAhead as a
    /// service's pread would be; counts what reaches the file.
    final class Source {
        let path: String
        let bytes: [UInt8]
        let fd: Int32
        var fetches: [(offset: Int64, count: Int)] = []

        init(size: Int) {
            path = Paths.temporaryDirectory("readahead") + "/file"
            bytes = (0..<size).map { _ in UInt8.random(in: 0...255) }
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            fd = Glibc.open(path, O_RDWR)
        }

        deinit {
            Glibc.close(fd)
            Paths.remove((path as NSString).deletingLastPathComponent)
        }

        func read(_ ahead: ReadAhead, _ handle: ServiceHandle = ServiceHandle(rawValue: 1),
                  at offset: Int64, count: Int) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            let got = try out.withUnsafeMutableBytes { buffer in
                try ahead.pread(handle, into: buffer, at: offset) { (into, at) throws(ServiceError) in
                    fetches.append((at, into.count))
                    return Glibc.pread(fd, into.baseAddress, into.count, off_t(at))
                }
            }
            return Array(out[..<got])
        }

        func expected(at offset: Int, count: Int) -> [UInt8] {
            Array(bytes[min(offset, bytes.count)..<min(offset + count, bytes.count)])
        }
    }

    @Test func sequentialReadsFetchGrowingWindowsAndReturnTheFile() throws {
        let source = Source(size: 3_000_000)
        let ahead = ReadAhead(lifetime: 60)
        var offset = 0
        while offset < source.bytes.count {
            let got = try source.read(ahead, at: Int64(offset), count: 4096)
            #expect(got == source.expected(at: offset, count: 4096), "at \(offset)")
            offset += 4096
        }
        #expect(try source.read(ahead, at: Int64(offset), count: 4096).isEmpty)
        // 733 reads: the first as asked, then windows of 64 KiB doubling to 1 MiB.
        #expect(source.fetches.count < 12, "\(source.fetches)")
        #expect(source.fetches.prefix(3).map(\.count) == [4096, 65536, 131072])
        #expect(source.fetches.map(\.count).max() == ReadAhead.largestWindow)
        #expect(ahead.heldBytes <= ReadAhead.largestWindow)
    }

    @Test func readsAcrossTheWindowsEdgeAndTheFilesEndAreWhole() throws {
        let source = Source(size: 100_000)
        let ahead = ReadAhead(lifetime: 60)
        _ = try source.read(ahead, at: 0, count: 1000)
        _ = try source.read(ahead, at: 1000, count: 1000)  // fetches 1000..<66536
        for (offset, count) in [(2000, 60_000), (62_000, 10_000), (72_000, 30_000), (99_990, 100), (100_000, 10)] {
            #expect(try source.read(ahead, at: Int64(offset), count: count) == source.expected(at: offset, count: count),
                    "\(count) at \(offset)")
        }
        // A read straddling the edge took what was held and fetched only the rest.
        #expect(source.fetches.contains { $0.offset == 66_536 }, "\(source.fetches)")
    }

    @Test func readsOutOfSequenceGoOutAsAsked() throws {
        let source = Source(size: 1_000_000)
        let ahead = ReadAhead(lifetime: 60)
        for offset in [500_000, 10, 900_000, 4096, 123_456] {
            #expect(try source.read(ahead, at: Int64(offset), count: 4096) == source.expected(at: offset, count: 4096))
        }
        // The same 8 KiB again and again (Figure 5.2's read) is one request each time.
        for _ in 0..<5 { _ = try source.read(ahead, at: 0, count: 8192) }
        #expect(source.fetches.map(\.count) == [4096, 4096, 4096, 4096, 4096] + Array(repeating: 8192, count: 5))
        #expect(ahead.heldBytes == 0)
    }

    static func status(inode: UInt) -> FileStatus {
        var st = stat()
        st.st_dev = 1
        st.st_ino = inode
        st.st_mode = S_IFREG | 0o644
        return FileStatus(st)
    }

    /// `handle`'s window, fetched by two reads of 4 KiB from the start.
    func startReading(_ source: Source, _ ahead: ReadAhead, _ handle: ServiceHandle) throws {
        _ = try source.read(ahead, handle, at: 0, count: 4096)
        _ = try source.read(ahead, handle, at: 4096, count: 4096)
    }

    func change(_ source: Source, _ text: String, at offset: Int) {
        _ = text.utf8.withContiguousStorageIfAvailable { Glibc.pwrite(source.fd, $0.baseAddress, $0.count, off_t(offset)) }
    }

    @Test func aWriteToTheSameFileUnderAnyNameForgetsItsData() throws {
        let source = Source(size: 200_000)
        let ahead = ReadAhead(lifetime: 60)
        let (reader, other, alias, writer) = (ServiceHandle(rawValue: 1), ServiceHandle(rawValue: 2),
                                              ServiceHandle(rawValue: 3), ServiceHandle(rawValue: 4))
        ahead.opened(reader, status: Self.status(inode: 10))
        ahead.opened(other, status: Self.status(inode: 20))
        ahead.opened(alias, status: Self.status(inode: 10))  // a hard link, a symbolic link, a new name
        try startReading(source, ahead, reader)
        try startReading(source, ahead, other)
        change(source, "changed", at: 8192)
        #expect(try source.read(ahead, reader, at: 8192, count: 7) != Array("changed".utf8), "served from the window")
        ahead.written(through: writer)  // not opened here: nothing can be trusted
        #expect(ahead.heldBytes == 0)
        #expect(try source.read(ahead, reader, at: 8192, count: 7) == Array("changed".utf8))
        try startReading(source, ahead, other)
        change(source, "CHANGED", at: 8192)
        ahead.written(through: alias)
        let fetches = source.fetches.count
        #expect(try source.read(ahead, reader, at: 8192, count: 7) == Array("CHANGED".utf8), "written under another name")
        #expect(source.fetches.count == fetches + 1)
        // Another file (inode 20; here the same bytes) keeps what it fetched.
        #expect(try source.read(ahead, other, at: 8192, count: 7) == Array("changed".utf8))
        #expect(source.fetches.count == fetches + 1)
        ahead.closed(reader)
        ahead.closed(other)
        #expect(ahead.heldBytes == 0)
    }

    @Test func expiredDataIsFetchedAgainWithASmallWindow() throws {
        let source = Source(size: 3_000_000)
        let ahead = ReadAhead(lifetime: 0.3)
        var offset: Int64 = 0
        while source.fetches.last?.count ?? 0 < 256 << 10 {
            _ = try source.read(ahead, at: offset, count: 4096)
            offset += 4096
        }
        change(source, "CHANGED", at: Int(offset))
        Thread.sleep(forTimeInterval: 0.4)
        source.fetches.removeAll()
        #expect(try source.read(ahead, at: offset, count: 7) == Array("CHANGED".utf8), "after the lifetime")
        #expect(source.fetches.map(\.count) == [ReadAhead.firstWindow], "\(source.fetches)")
    }

    @Test func heldDataStaysWithinTheBudget() throws {
        let source = Source(size: 4_000_000)
        let ahead = ReadAhead(lifetime: 60)
        for index in 0..<40 {
            let handle = ServiceHandle(rawValue: index)
            var offset: Int64 = 0
            for _ in 0..<400 {
                _ = try source.read(ahead, handle, at: offset, count: 8192)
                offset += 8192
            }
            #expect(ahead.heldBytes <= ReadAhead.budget)
        }
        #expect(ahead.heldBytes > ReadAhead.budget / 2)
    }

    /// `paste` of many files: windows shrink instead of evicting each other.
    @Test func manyHandlesReadInTurnFetchLittleMoreThanTheyRead() throws {
        let source = Source(size: 4_000_000)
        let ahead = ReadAhead(lifetime: 60)
        let handles = (0..<40).map { ServiceHandle(rawValue: $0) }
        var read = 0
        for step in 0..<300 {
            for handle in handles {
                let got = try source.read(ahead, handle, at: Int64(step * 4096), count: 4096)
                #expect(got == source.expected(at: step * 4096, count: 4096))
                read += got.count
            }
        }
        let fetched = source.fetches.reduce(0) { $0 + $1.count }
        #expect(fetched < read * 2, "fetched \(fetched) bytes for \(read) read")
        #expect(source.fetches.count < handles.count * 30, "\(source.fetches.count) fetches")
    }
}

/// Programs reading streamed remote files (--no-cache) a little at a time.
@Suite struct ReadAheadAgentTests {
    static let size = 1 << 20

    static let readAll = """
        import hashlib, os, sys
        fd, h = os.open(sys.argv[1], os.O_RDONLY), hashlib.sha256()
        while block := os.read(fd, 4096): h.update(block)
        print(h.hexdigest())
        """

    static func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    /// The server's read requests in a run, from its job report.
    static func reads(_ server: any ChirpTestServer, _ options: [String], _ script: String) throws -> (CommandResult, Int) {
        let work = Paths.temporaryDirectory("readahead-run")
        defer { Paths.remove(work) }
        let result = Command.run([Paths.parrot, "run", "--no-cache", "--stats-file", work + "/stats.json"] + options
                                 + ["--", "/bin/sh", "-c", "C=/chirp/127.0.0.1:\(server.port); " + script], timeout: 120)
        let data = try #require(FileManager.default.contents(atPath: work + "/stats.json"), "\(result)")
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let services = try #require(report["services"] as? [String: [String: Any]])
        let chirp = try #require(services["chirp/127.0.0.1:\(server.port)"], "\(services)")
        return (result, (chirp["operations"] as? [String: Int])?["read"] ?? 0)
    }

    @Test(arguments: ChirpServerKind.allCases)
    func smallSequentialReadsAreFewRequestsAndTheSameBytes(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            server.write("/data.bin", Self.randomBytes(Self.size))
            let native = ChirpAgentTests.sha256(server.local("/data.bin"))
            // read(2) of 4 KiB to the end on a descriptor of its own (dd would
            // move its input onto descriptor 0, which makes it a local copy).
            let script = "python3 -c '\(Self.readAll)' $C/data.bin; head -c 10000 $C/data.bin | wc -c"
            let (ahead, aheadReads) = try Self.reads(server, [], script)
            #expect(ahead.status == 0 && ahead.stdout == "\(native)\n10000\n", "\(ahead)")
            // 256 reads of 4 KiB: the first as asked, then windows up to 1 MiB.
            #expect(aheadReads < 16, "\(aheadReads) read requests")
            // Without an attribute lifetime nothing is kept: one request per read.
            let (each, eachReads) = try Self.reads(server, ["--attr-timeout", "0"], script)
            #expect(each.status == 0 && each.stdout == ahead.stdout, "\(each)")
            #expect(eachReads >= Self.size / 4096, "\(eachReads) read requests")
        }
    }

    /// Data read ahead follows the file, not its name: writes under a new
    /// name, through a hard link, and a truncate are seen at once, as natively.
    @Test(arguments: ChirpServerKind.allCases)
    func changesUnderOtherNamesAreSeenAtOnce(_ kind: ChirpServerKind) throws {
        try withChirpServer(kind) { server in
            let script = """
                import os, sys
                d = sys.argv[1]
                a, b, c = d + "/a.bin", d + "/b.bin", d + "/c.bin"
                with open(a, "wb") as f: f.write(os.urandom(300_000))
                fd = os.open(a, os.O_RDONLY)
                os.read(fd, 4096); os.read(fd, 4096)
                os.rename(a, b); os.read(fd, 4096)
                w = os.open(b, os.O_WRONLY); os.pwrite(w, b"renamed", 20000); os.close(w)
                print(os.pread(fd, 7, 20000))
                os.link(b, c)
                w = os.open(c, os.O_WRONLY); os.pwrite(w, b"linked", 30000); os.close(w)
                print(os.pread(fd, 6, 30000))
                os.truncate(b, 10000)
                print(len(os.pread(fd, 4096, 12288)), len(os.read(fd, 100_000)))
                os.unlink(b); os.unlink(c)
                """
            let native = Command.run(["python3", "-c", script, server.local("")])
            #expect(native.status == 0 && native.stdout == "b'renamed'\nb'linked'\n0 0\n", "\(native)")
            let traced = Command.run([Paths.parrot, "run", "--no-cache", "--", "python3", "-c", script,
                                      "/chirp/127.0.0.1:\(server.port)"], timeout: 60)
            #expect(traced.status == 0 && traced.stdout == native.stdout, "\(traced)")
        }
    }

    /// A write through the agent is seen by the next read at once; one by
    /// another client (here: straight into the server's directory) within
    /// the attribute lifetime, and at once with --attr-timeout 0.
    @Test func readsSeeChangesAsStatDoes() throws {
        try withChirpServer(.bundled) { server in
            server.write("/data.bin", Self.randomBytes(300_000))
            let script = """
                import os, sys, time
                remote, local, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
                fd = os.open(remote, os.O_RDONLY)
                os.read(fd, 4096); os.read(fd, 4096)          # the second reads ahead
                w = os.open(remote, os.O_WRONLY)
                os.pwrite(w, b"agent", 8192)                   # through the agent
                print(os.read(fd, 5))
                l = os.open(local, os.O_WRONLY)
                os.pwrite(l, b"other", 20000); os.close(l)     # another client
                time.sleep(pause)
                os.lseek(fd, 20000, os.SEEK_SET); print(os.read(fd, 5))
                """
            for (options, pause) in [([String](), "1.3"), (["--attr-timeout", "0"], "0")] {
                server.write("/data.bin", Self.randomBytes(300_000))
                let (result, _) = try Self.reads(server, options,
                                                 "python3 -c '\(script)' $C/data.bin \(server.local("/data.bin")) \(pause)")
                #expect(result.status == 0 && result.stdout == "b'agent'\nb'other'\n", "\(options) \(result)")
            }
        }
    }
}
