import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Files streamed to a server in cache mode (CachedOpen's streamsWrites) are
/// written into their cache entry too, byte for byte as they go out: when the
/// last descriptor is closed without an error, the entry holds what the server
/// has, and the next read of the file (a compiler's output read by the
/// linker, a tree just copied) is local. Only files that start empty (the open
/// truncated or created them) are kept so; anything else the program does to
/// the file (ftruncate, a descriptor made real) drops the copy, and the entry
/// stays invalid until fetched again.
///
/// Only files up to `largestKept` are copied so. Writing the copy costs the
/// tracer thread a page-cache write per block, about as much as sending the
/// block (at 1 MiB blocks it halved a 128 MiB copy's rate), while a later
/// read fetches the file for about the same cost, and only if it comes.
/// Small files (sources, objects, most outputs) keep their copy: reading them
/// back saves a round trip per file.
final class StreamedCopies {
    static let largestKept: Int64 = 8 << 20

    private struct Copy {
        let fd: Int32
        let key: String
    }

    private let cache: WholeFileCache
    private var copies: [ObjectIdentifier: Copy] = [:]

    init(cache: WholeFileCache) {
        self.cache = cache
    }

    /// Starts the entry of `file` (just opened, empty at the server) afresh.
    func start(_ file: OpenFile, key: String) {
        // No copy (a full local disk, say): the file is read from the server later.
        guard let fd = cache.emptiedForWriting(key: key) else { return }
        copies[ObjectIdentifier(file)] = Copy(fd: fd, key: key)
    }

    /// `bytes` went to the server at `offset`.
    func wrote(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: Int64) {
        guard let copy = copies[ObjectIdentifier(file)] else { return }
        guard offset + Int64(bytes.count) <= Self.largestKept else { return drop(file) }
        var done = 0
        while done < bytes.count {
            let n = pwrite(copy.fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n <= 0 { drop(file); return }
            done += n
        }
    }

    /// The copy can no longer follow the file: emptied (an entry without meta
    /// is never evicted, so what it held would take space for nothing).
    func drop(_ file: OpenFile) {
        guard let copy = copies.removeValue(forKey: ObjectIdentifier(file)) else { return }
        ftruncate(copy.fd, 0)
        close(copy.fd)
    }

    /// The last descriptor was closed and the server took every write: the
    /// entry is valid for the file's status now (nil: unknown, dropped).
    func finish(_ file: OpenFile, status: FileStatus?, link: String?) {
        guard let copy = copies.removeValue(forKey: ObjectIdentifier(file)) else { return }
        // The entry's file must still be the one written here (not cut loose meanwhile).
        var written = stat(), current = stat()
        if let status, status.isRegularFile, fstat(copy.fd, &written) == 0,
           lstat(cache.dataPath(for: copy.key), &current) == 0, written.st_ino == current.st_ino {
            fchmod(copy.fd, mode_t(status.mode & 0o7777) | 0o600)
            close(copy.fd)
            cache.committed(key: copy.key, status: status, link: link)
        } else {
            close(copy.fd)
        }
    }

    func isKeeping(_ file: OpenFile) -> Bool {
        copies[ObjectIdentifier(file)] != nil
    }

    /// Whether some file being streamed is writing `key`'s entry.
    func isKeeping(key: String) -> Bool {
        copies.values.contains { $0.key == key }
    }
}
