#if canImport(Glibc)
import Glibc
#endif

/// The operations of protocols/chirp.md §6 on the exported root, each with
/// the rights check the reference server makes. Every method blocks: the
/// connection runs them on the I/O thread pool.
struct ChirpFileSystem: Sendable {
    let root: ChirpRoot
    let access: ChirpAccessControl

    /// Permission bits a client may set: never setuid, setgid or sticky, which
    /// would let anyone with the `w` right plant a setuid program on the server.
    static func permissions(_ mode: Int64) -> mode_t { mode_t(truncatingIfNeeded: mode) & 0o777 }

    func stat(_ path: ChirpServerPath, _ subject: String, follow: Bool) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .list, subject, follow: follow)
        return ChirpReply(lines: [ChirpWireFormat.statLine(try root.status(path, follow: follow))])
    }

    func statfs(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .list, subject)
        let st = try root.with(path) { (fd) throws(ChirpFailure) in try ChirpRoot.fileSystemStatus(fd) }
        return ChirpReply(lines: [ChirpWireFormat.statfsLine(st)])
    }

    /// MODE is access(2)'s: R maps to r, W to w, X to x (l on a directory),
    /// F (0) to r. Then the server's own access(2) must agree.
    func checkAccess(_ path: ChirpServerPath, mode: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        let mode = Int32(truncatingIfNeeded: mode)
        var needed = ChirpRights()
        if mode & R_OK != 0 || mode & (R_OK | W_OK | X_OK) == 0 { needed.insert(.read) }
        if mode & W_OK != 0 { needed.insert(.write) }
        if mode & X_OK != 0 { needed.insert(root.isDirectory(path) ? .list : .execute) }
        try access.requireOn(path, needed, subject)
        try root.with(path) { (fd) throws(ChirpFailure) in
            try posixCall { Glibc.access(ChirpRoot.procPath(fd), mode & (R_OK | W_OK | X_OK)) }
        }
        return .ok
    }

    func readlink(_ path: ChirpServerPath, maxLength: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        guard maxLength >= 0 else { throw ChirpFailure(EINVAL) }
        try access.requireOn(path, .read, subject, follow: false)
        return try root.withParent(path) { (dir, name) throws(ChirpFailure) -> ChirpReply in
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
            let n = try posixCall { readlinkat(dir, name, &buffer, buffer.count) }
            return ChirpReply(counted: Array(buffer[..<min(n, Int(min(maxLength, Int64(n))))]))
        }
    }

    func truncate(_ path: ChirpServerPath, length: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        guard length >= 0 else { throw ChirpFailure(EINVAL) }
        try access.requireOn(path, .write, subject)
        try root.with(path) { (fd) throws(ChirpFailure) in try posixCall { Glibc.truncate(ChirpRoot.procPath(fd), off_t(length)) } }
        return .ok
    }

    func utime(_ path: ChirpServerPath, access atime: Int64, modification mtime: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .write, subject)
        let times = [timespec(tv_sec: Int(atime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
        try root.with(path) { (fd) throws(ChirpFailure) in
            try posixCall { utimensat(AT_FDCWD, ChirpRoot.procPath(fd), times, 0) }
        }
        return .ok
    }

    func chmod(_ path: ChirpServerPath, mode: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .write, subject)
        try root.with(path) { (fd) throws(ChirpFailure) in
            try posixCall { Glibc.chmod(ChirpRoot.procPath(fd), ChirpFileSystem.permissions(mode)) }
        }
        return .ok
    }

    /// Accepted and ignored, as by the reference server: files belong to the server's user.
    func chown(_ path: ChirpServerPath, _ subject: String, follow: Bool) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .write, subject, follow: follow)
        _ = try root.status(path, follow: follow)
        return .ok
    }

    func digest(_ path: ChirpServerPath, algorithm: Substring, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        guard ["md5", "sha1", "sha256", "sha512"].contains(algorithm) else { throw ChirpFailure(EINVAL) }
        try access.requireOn(path, .read, subject)
        let fd = try openRegularFile(path, flags: O_RDONLY)
        defer { close(fd) }
        var digest = [UInt8](repeating: 0, count: 64)
        let length = chirp_digest_file(fd, String(algorithm), &digest, UInt32(digest.count))
        guard length >= 0 else { throw ChirpFailure(-length) }
        return ChirpReply(counted: Array(digest[..<Int(length)]))
    }

    /// Opens a file that must be regular: never a FIFO or device, whose open or
    /// read could block an I/O thread forever. A directory is EISDIR.
    func openRegularFile(_ path: ChirpServerPath, flags: Int32, mode: mode_t = 0) throws(ChirpFailure) -> Int32 {
        let fd = try root.open(path, flags: flags | O_NONBLOCK, mode: mode)
        do throws(ChirpFailure) {
            let type = try ChirpRoot.status(fd).st_mode & S_IFMT
            guard type == S_IFREG else { throw ChirpFailure(type == S_IFDIR ? EISDIR : ENOTSUP) }
            try posixCall { fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }
}

import CChirpServerShim
