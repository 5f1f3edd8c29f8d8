#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

extension FTPFileService {
    public func stat(_ path: String) throws(ServiceError) -> FileStatus {
        var found = try pool.perform(idempotent: true) { (connection) throws(ServiceError) in try entry(path, on: connection) }
        if found.type == S_IFLNK {
            // The server follows links in transfers: so does stat.
            found.type = try pool.perform(idempotent: true) { (connection) throws(ServiceError) in
                try kind(path, on: connection) == .directory ? S_IFDIR : S_IFREG
            }
        }
        return status(found, path: path)
    }

    public func lstat(_ path: String) throws(ServiceError) -> FileStatus {
        status(try pool.perform(idempotent: true) { (connection) throws(ServiceError) in try entry(path, on: connection) }, path: path)
    }

    /// From the perm fact when the server gives it (what this login may do),
    /// else from the listing's bits for the owner.
    public func access(_ path: String, mode: Int32) throws(ServiceError) {
        let found = try pool.perform(idempotent: true) { (connection) throws(ServiceError) in try entry(path, on: connection) }
        let bits = found.permissionBits
        let denied = (mode & W_OK != 0 && !found.isWritable)
            || (mode & R_OK != 0 && bits & 0o444 == 0)
            || (mode & X_OK != 0 && bits & 0o111 == 0)
        if denied { throw ServiceError(errno: EACCES, message: "\(server)\(path): not permitted to this login") }
    }

    public func readlink(_ path: String) throws(ServiceError) -> String {
        let found = try pool.perform(idempotent: true) { (connection) throws(ServiceError) in try entry(path, on: connection) }
        guard found.type == S_IFLNK, let target = found.linkTarget else {
            throw ServiceError(errno: EINVAL, message: "\(server)\(path): not a symbolic link")
        }
        return target
    }

    /// FTP says nothing about space: a large file system with room (df
    /// shows it as unknown-sized; a full disk is ENOSPC when it happens).
    public func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        let blocks: Int64 = 1 << 30
        return FileSystemStatus(type: 0, blockSize: 1 << 16, blocks: blocks, freeBlocks: blocks, availableBlocks: blocks,
                                files: 1 << 30, freeFiles: 1 << 30)
    }

    public func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        try pool.perform(idempotent: true) { (connection) throws(ServiceError) -> [DirectoryEntry] in
            let (lines, refusal) = try listLines(path, on: connection)
            if let refusal { throw failure(.list, path, refusal, on: connection) }
            let now = Int64(time(nil))
            let mlst = connection.features.mlst
            let found = lines.compactMap { mlst ? FTPListing.facts($0) : FTPListing.unixLine($0, now: now) }
            // `LIST -a` of a directory shows "."; without it the path may be a
            // file (listed as itself) or missing (vsftpd lists nothing).
            if !mlst && !found.contains(where: { $0.name == "." }), try kind(path, on: connection) != .directory {
                throw failure(.list, path, FTPReply(code: 550, lines: ["550 (the listing has no \".\")"]), on: connection)
            }
            return found.compactMap { entry -> DirectoryEntry? in
                guard entry.name != ".", entry.name != "..", !entry.name.contains("/") else { return nil }
                return DirectoryEntry(name: entry.name, status: status(entry, path: FTPPath.child(path, entry.name)))
            }
        }
    }

    /// MKD; the server's default mode (FTP has no mode for it).
    public func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try run("MKD \(path)", .mkdir, path, idempotent: false)
    }

    public func rmdir(_ path: String) throws(ServiceError) {
        try run("RMD \(path)", .rmdir, path, idempotent: false)
    }

    public func unlink(_ path: String) throws(ServiceError) {
        try run("DELE \(path)", .unlink, path, idempotent: false)
    }

    public func rename(_ from: String, to: String) throws(ServiceError) {
        directories.forget()
        try pool.perform(idempotent: false) { (connection) throws(ServiceError) in
            let first = try connection.command("RNFR \(from)")
            guard first.code == 350 else { throw failure(.renameSource, from, first, on: connection) }
            let second = try connection.command("RNTO \(to)")
            guard second.isCompletion else { throw failure(.renameTarget, to, second, on: connection, source: from) }
        }
    }

    /// FTP has no links: EPERM, as a file system without them answers.
    public func link(_ existing: String, to newPath: String) throws(ServiceError) {
        throw ServiceError(errno: EPERM, message: "\(server): FTP cannot make hard links")
    }

    public func symlink(target: String, at path: String) throws(ServiceError) {
        throw ServiceError(errno: EPERM, message: "\(server): FTP cannot make symbolic links")
    }

    /// To 0: an empty STOR. Other lengths: ENOTSUP (FTP cannot cut a file).
    public func truncate(_ path: String, length: Int64) throws(ServiceError) {
        if length != 0 {
            if try stat(path).size == length { return }
            throw ServiceError(errno: ENOTSUP, message: "\(server)\(path): FTP can only truncate to 0")
        }
        let transfer = try startOwnTransfer("STOR \(path)", at: 0, .write, path)
        try finish(transfer, operation: .write, path: path, release: true)
    }

    /// SITE CHMOD where the server has it (vsftpd, pyftpdlib); EPERM elsewhere.
    public func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        if pool.features?.siteChmod == false {
            throw ServiceError(errno: EPERM, message: "\(server): the server does not change modes (SITE CHMOD)")
        }
        try pool.perform(idempotent: true) { (connection) throws(ServiceError) in
            let reply = try connection.command("SITE CHMOD \(String(mode & 0o7777, radix: 8)) \(path)")
            if FTPErrorInterview.notImplemented.contains(reply.code) { pool.learn { $0.siteChmod = false } }
            guard reply.isCompletion else { throw failure(.chmod, path, reply, on: connection) }
        }
    }

    public func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        _ = try stat(path)
        throw ServiceError(errno: EPERM, message: "\(server): FTP cannot change owners")
    }

    /// MFMT (the modification time; FTP has no access time), else vsftpd's
    /// MDTM with a time argument; ENOTSUP when the server has neither.
    public func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        var seconds = time_t(modification.seconds)
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let stamp = "\(fields.tm_year + 1900)\(two(fields.tm_mon + 1))\(two(fields.tm_mday))\(two(fields.tm_hour))\(two(fields.tm_min))\(two(fields.tm_sec))"
        try pool.perform(idempotent: true) { (connection) throws(ServiceError) in
            let command: String
            if connection.features.mfmt { command = "MFMT \(stamp) \(path)" }
            else if connection.features.mdtm { command = "MDTM \(stamp) \(path)" }
            else { throw ServiceError(errno: ENOTSUP, message: "\(server): the server cannot set times (no MFMT)") }
            let reply = try connection.command(command)
            guard reply.isCompletion else { throw failure(.utimes, path, reply, on: connection) }
        }
    }
}
