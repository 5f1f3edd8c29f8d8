#if canImport(Glibc)
import Glibc
#endif

/// The blocking halves of getfile and putfile; the connection moves the bytes.
extension ChirpFileSystem {
    /// Needs `r`. Returns the descriptor and the size to announce.
    func openForGet(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> (Int32, Int64) {
        try access.requireOn(path, .read, subject)
        let fd = try openRegularFile(path, flags: O_RDONLY)
        do {
            return (fd, Int64(try ChirpRoot.status(fd).st_size))
        } catch {
            close(fd)
            throw error
        }
    }

    /// Needs `w`, or `p` to create a file that does not exist yet. Refuses a
    /// length the disk cannot hold before the client sends a byte.
    func openForPut(_ path: ChirpServerPath, mode: Int64, length: Int64, _ subject: String) throws(ChirpFailure) -> Int32 {
        guard length >= 0 else { throw ChirpFailure(EINVAL) }
        guard !root.isDirectory(path) else { throw ChirpFailure(EISDIR) }
        var flags = O_WRONLY | O_CREAT | O_TRUNC
        let directory = access.governingDirectory(path, follow: true)
        if try !access.has(.write, subject, in: directory) {
            try access.require(.put, subject, in: directory)
            flags |= O_EXCL
        }
        let space = try root.with(path.parent) { (fd) throws(ChirpFailure) in try ChirpRoot.fileSystemStatus(fd) }
        let free = Int64(getuid() == 0 ? space.f_bfree : space.f_bavail) * Int64(space.f_bsize)
        guard length <= free else { throw ChirpFailure(ENOSPC) }
        return try openRegularFile(path, flags: flags, mode: ChirpFileSystem.permissions(mode))
    }

    /// After a failed putfile: no partial file is left behind.
    func removePartial(_ path: ChirpServerPath) {
        _ = try? root.withParent(path) { (dir, name) throws(ChirpFailure) in unlinkat(dir, name, 0) }
    }
}
