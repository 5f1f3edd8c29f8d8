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
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
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

    @Test func forgottenOrExpiredDataIsFetchedAgain() throws {
        let source = Source(size: 200_000)
        let handle = ServiceHandle(rawValue: 7)
        let ahead = ReadAhead(lifetime: 0.3)
        ahead.opened(handle, path: "/d/file")
        _ = try source.read(ahead, handle, at: 0, count: 4096)
        _ = try source.read(ahead, handle, at: 4096, count: 4096)
        // The file changes where the window holds it.
        _ = "changed".utf8.withContiguousStorageIfAvailable { Glibc.pwrite(source.fd, $0.baseAddress, $0.count, 8192) }
        #expect(try source.read(ahead, handle, at: 8192, count: 7) != Array("changed".utf8), "served from the window")
        ahead.forget(names: ["/d/other"], prefixes: ["/e/"])
        #expect(try source.read(ahead, handle, at: 8199, count: 1).count == 1)
        #expect(ahead.heldBytes > 0, "another name's change keeps the data")
        ahead.forget(names: ["/d/file", "/d"], prefixes: [])
        #expect(ahead.heldBytes == 0)
        #expect(try source.read(ahead, handle, at: 8192, count: 7) == Array("changed".utf8))
        _ = "CHANGED".utf8.withContiguousStorageIfAvailable { Glibc.pwrite(source.fd, $0.baseAddress, $0.count, 8192) }
        _ = try source.read(ahead, handle, at: 8199, count: 4096)  // fetches a window again
        Thread.sleep(forTimeInterval: 0.4)
        #expect(try source.read(ahead, handle, at: 8192, count: 7) == Array("CHANGED".utf8), "after the lifetime")
        ahead.closed(handle)
        #expect(ahead.heldBytes == 0)
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
