import Testing
import ParrotServices
import CLinuxHeaders
import ParrotFilter
@testable import ParrotNamespace
#if canImport(Glibc)
import Glibc
#endif

/// /SERVICE/AUTHORITY/PATH naming, descriptor tables and the kernel structures
/// the agent writes for remote files.
@Suite struct RemoteNamespaceTests {
    let services: Set<String> = ["chirp"]
    let host = FakeHost(directories: ["/", "/srv", "/home"], files: ["/srv/f"],
                        links: ["/srv/to-remote": "/chirp/h:9094/data", "/srv/up": ".."])

    func remote(_ outcome: ResolveOutcome) -> RemoteLocation? {
        if case .resolved(let resolution) = outcome { return resolution.remote }
        return nil
    }

    func resolver(_ lines: String = "") throws -> PathResolver {
        PathResolver(table: MountTable(try MountList.parse(lines, file: "test")), services: services, fs: host)
    }

    @Test func servicePathsNameServerAndPath() throws {
        let r = try resolver()
        #expect(remote(r.resolve("/chirp/h:9094/a/b", followFinal: true))
                == RemoteLocation(service: "chirp", authority: "h:9094", path: "/a/b"))
        #expect(remote(r.resolve("/chirp/h:9094", followFinal: true))?.path == "/")
        #expect(remote(r.resolve("/chirp//h:9094/./a/../b/", followFinal: true))?.path == "/b")
        #expect(remote(r.resolve("/chirp", followFinal: true))?.isServiceRoot == true)
        #expect(remote(r.resolve("/chirp/h/..", followFinal: true))?.isServiceRoot == true)
        #expect(remote(r.resolve("/chirpy/x", followFinal: true)) == nil)
        #expect(remote(r.resolve("/srv/f", followFinal: true)) == nil)
        #expect(RemoteLocation(service: "chirp", authority: "h:1", path: "/x").virtualPath == "/chirp/h:1/x")
        // The byte-level shortcut for normalized paths and the walk agree.
        for path in ["/chirp/h:9094/dir/ünï cödé", "/chirp/u@h:1/a/.hidden", "/chirp/h/x%41"] {
            guard case .resolved(let resolution) = r.resolve(path, followFinal: true) else {
                Issue.record("\(path) not resolved"); continue
            }
            let walked = RemoteLocation(normalized: path, services: services)
            #expect(resolution.remote == walked && resolution.virtualPath == path && walked?.virtualPath == path, "\(path)")
        }
        #expect(PathResolver.plainServicePath("/chirp/h:9094/dir/ünï", services: services)?.path == "/dir/ünï")
        #expect(PathResolver.plainServicePath("/chirp/h/a/.hidden", services: services) == nil)  // left to the walk
        #expect(PathResolver.plainServicePath("/chirpy/h/a", services: services) == nil)
    }

    @Test func leavingAServiceWithDotDotIsLocal() throws {
        let r = try resolver()
        guard case .resolved(let resolution) = r.resolve("/chirp/h/../../srv/f", followFinal: true) else {
            Issue.record("not resolved"); return
        }
        #expect(resolution.remote == nil && resolution.hostPath == "/srv/f")
        // The kernel would not find /chirp: the call must be rewritten.
        #expect(resolution.translated)
    }

    /// `..` after a component of a server's path is applied lexically, with
    /// the spelling kept for the agent to ask the server (the component may
    /// be a link), also when the lexical path leaves the server; a path
    /// without one has none.
    @Test func dotDotInsideAServiceKeepsItsSpelling() throws {
        let r = try resolver()
        let cases: [(String, String?, String?)] = [
            ("/chirp/h/a/../b", "/chirp/h/b", "/chirp/h/a/../b"),
            ("/chirp/h/a/./b/../../c/", "/chirp/h/c", "/chirp/h/a/./b/../../c"),
            ("/chirp/h/a/b", "/chirp/h/a/b", nil),
            ("/chirp/../chirp/h/a/../b", "/chirp/h/b", "/chirp/h/a/../b"),
            ("/chirp/h/../g/x", "/chirp/g/x", "/chirp/h/../g/x"),
            ("/chirp/h/a/../../../srv/f", nil, "/chirp/h/a/../../../srv/f"),
            ("/chirp/../srv/up/srv/f", nil, nil),
        ]
        for (path, remote, spelling) in cases {
            guard case .resolved(let resolution) = r.resolve(path, followFinal: true) else {
                Issue.record("\(path) not resolved"); continue
            }
            let spelled = resolution.remoteSpelling.map { "/\($0.service)/\($0.authority)\($0.path)" }
            #expect(resolution.remote?.virtualPath == remote && spelled == spelling, "\(path) \(resolution)")
        }
        // Leaving /chirp at once, the rest is resolved as any path: links followed, a missing directory refused.
        #expect(r.resolve("/chirp/../srv/up/srv/f", followFinal: true)
                == .resolved(Resolution(hostPath: "/srv/f", virtualPath: "/srv/f", entry: nil, translated: true)))
        #expect(r.resolve("/chirp/../srv/none/../f", followFinal: true) == .failed(ENOENT))
    }

    @Test func symlinksAndMountsLeadIntoServices() throws {
        // A local symlink into a service is followed when a mount list is in effect.
        let r = try resolver("/home /home\n")
        #expect(remote(r.resolve("/srv/to-remote/x", followFinal: true))?.path == "/data/x")
        let mounted = try resolver("/data /chirp/h:9094/exported\n")
        let location = remote(mounted.resolve("/data/sub/f", followFinal: true))
        #expect(location == RemoteLocation(service: "chirp", authority: "h:9094", path: "/exported/sub/f"))
        if case .resolved(let resolution) = mounted.resolve("/data/sub/f", followFinal: true) {
            #expect(resolution.virtualPath == "/data/sub/f")
        }
        // `..` above the mount's prefix leaves the mount, as a real one's would.
        for path in ["/data/..", "/data/sub/../../srv/f"] {
            guard case .resolved(let resolution) = mounted.resolve(path, followFinal: true) else {
                Issue.record("\(path) not resolved"); continue
            }
            #expect(resolution.remote == nil && resolution.hostPath == (path == "/data/.." ? "/" : "/srv/f"), "\(resolution)")
        }
        #expect(remote(mounted.resolve("/data/sub/../x", followFinal: true))?.path == "/exported/x")
    }

    @Test func withoutMountsOnlyServiceNamesNeedAWalk() throws {
        let r = try resolver()
        #expect(!r.needsWalk("/usr/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(r.needsWalk("/chirp/h/x"))
        #expect(r.needsWalk("/tmp/../chirp/h/x"))
        #expect(try resolver("/a /b\n").needsWalk("/usr/bin"))
    }

    @Test func descriptorTableNumbersSharesAndCloses() {
        let table = DescriptorTable()
        let file = OpenFile(service: LocalFileService(), location: RemoteLocation(service: "chirp", authority: "h", path: "/f"),
                            handle: nil, isDirectory: false, flags: O_RDONLY)
        let first = table.insert(file, closeOnExec: false)
        let second = table.insert(file, closeOnExec: true)
        #expect(first == DescriptorTable.base && second == DescriptorTable.base + 1)
        #expect(table.insert(file, closeOnExec: false, atLeast: DescriptorTable.base + 10) == DescriptorTable.base + 10)
        let child = table.copy()
        #expect(table.remove(DescriptorTable.base) == nil)           // others still refer to it
        #expect(table.insert(file, closeOnExec: false) == DescriptorTable.base)  // lowest free again
        #expect(child.execute().isEmpty && child[DescriptorTable.base + 1] == nil)
        #expect(child.removeAll().isEmpty)                           // the parent still has it
        #expect(table.removeAll().count == 1)                        // the last reference
        #expect(table.isEmpty)
        // Numbers stop where the filter's range ends, as the kernel's at RLIMIT_NOFILE.
        let last = Int32(VirtualDescriptor.end - 1)
        #expect(table.insert(file, closeOnExec: false, atLeast: last) == last)
        #expect(table.insert(file, closeOnExec: false, atLeast: last) == nil)
        #expect(VirtualDescriptor.base >= 1 << 16 && VirtualDescriptor.base <= 1 << 30)
    }

    @Test func statStructuresAreTheKernels() {
        let status = FileStatus(dev: 0x0803, ino: 123456789, mode: UInt32(S_IFREG) | 0o640, nlink: 3, uid: 1001, gid: 1002,
                                rdev: 0, size: 987654321, atime: Timestamp(seconds: 1_600_000_000, nanoseconds: 5),
                                mtime: Timestamp(seconds: 1_700_000_000, nanoseconds: 6),
                                ctime: Timestamp(seconds: 1_800_000_000, nanoseconds: 7), blksize: 1 << 20, blocks: 1929013)
        let bytes = KernelStructs.stat(status)
        #expect(bytes.count == MemoryLayout<stat>.size)
        let st = bytes.withUnsafeBytes { $0.loadUnaligned(as: stat.self) }
        #expect(st.st_dev == 0x0803 && st.st_ino == 123456789 && st.st_mode == status.mode && st.st_nlink == 3)
        #expect(st.st_uid == 1001 && st.st_gid == 1002 && st.st_size == 987654321 && st.st_blksize == 1 << 20)
        #expect(st.st_blocks == 1929013 && st.st_atim.tv_sec == 1_600_000_000 && st.st_mtim.tv_nsec == 6)
        #expect(st.st_ctim.tv_sec == 1_800_000_000)

        let x = KernelStructs.statx(status)
        #expect(x.count == MemoryLayout<statx>.size)
        let sx = x.withUnsafeBytes { $0.loadUnaligned(as: statx.self) }
        #expect(sx.stx_mask == 0x7FF && sx.stx_size == 987654321 && sx.stx_mode == UInt16(status.mode))
        #expect(sx.stx_mtime.tv_sec == 1_700_000_000 && sx.stx_atime.tv_nsec == 5 && sx.stx_ino == 123456789)
        #expect(sx.stx_dev_major == 8 && sx.stx_dev_minor == 3 && sx.stx_blksize == 1 << 20 && sx.stx_nlink == 3)

        let fs = KernelStructs.statfs(FileSystemStatus(type: 0x6969, blockSize: 4096, blocks: 100, freeBlocks: 50,
                                                       availableBlocks: 40, files: 1000, freeFiles: 900))
        #expect(fs.count == MemoryLayout<statfs>.size)
        let sf = fs.withUnsafeBytes { $0.loadUnaligned(as: statfs.self) }
        #expect(sf.f_type == 0x6969 && sf.f_bsize == 4096 && sf.f_blocks == 100 && sf.f_bavail == 40 && sf.f_ffree == 900)
    }

    @Test func directoryRecordsAreAligned() {
        let record = KernelStructs.dirent64(name: "hello.txt", inode: 42, nextOffset: 3, type: 8)
        #expect(record.count == 32 && record.count % 8 == 0)
        #expect(record[16] == 32 && record[18] == 8 && record[19] == UInt8(ascii: "h") && record[28] == 0)
        #expect(KernelStructs.directoryEntryType(mode: UInt32(S_IFDIR) | 0o755) == 4)
        #expect(KernelStructs.directoryEntryType(mode: UInt32(S_IFLNK)) == 10)
    }
}
