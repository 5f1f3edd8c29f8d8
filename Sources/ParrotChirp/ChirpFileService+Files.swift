#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// Open files: remote fds live in one connection, so every handle remembers
/// how to open its file again after a reconnect.
extension ChirpFileService {
    public func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try openWithStatus(path, flags: flags, mode: mode).0
    }

    public func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        // The protocol has no O_NOFOLLOW; ask first (the answer may age, as on NFS).
        if flags & O_NOFOLLOW != 0, (try? lstat(path))?.isSymbolicLink == true {
            throw ServiceError(errno: ELOOP, message: "chirp open \(path): a symbolic link (O_NOFOLLOW)")
        }
        let exclusive = flags & O_CREAT != 0 && flags & O_EXCL != 0
        return try session.perform("open \(path)", idempotent: !exclusive) { (connection, state) throws(ServiceError) in
            let (fd, status) = try connection.open(path, flags: flags, mode: mode)
            // Nor has it O_DIRECTORY: check what was opened.
            if flags & O_DIRECTORY != 0 && !status.isDirectory {
                _ = try? connection.call(.close(fd))
                throw ServiceError(errno: ENOTDIR, message: "chirp open \(path): not a directory (O_DIRECTORY)")
            }
            let handle = state.nextHandle
            state.nextHandle += 1
            state.files[handle] = ChirpOpenFile(path: path, flags: flags, mode: mode, dev: status.dev, ino: status.ino,
                                                fd: fd, generation: connection.generation)
            return (ServiceHandle(rawValue: handle), status)
        }
    }

    public func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try inTransfers(buffer.count) { (range) throws(ServiceError) in
            try withFile(handle, "pread") { (connection, file) throws(ServiceError) in
                try connection.pread(file.fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[range]), at: offset + Int64(range.lowerBound))
            }
        }
    }

    public func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(buffer.count, Self.maxTransfer)])
        return try withFile(handle, "read") { (connection, file) throws(ServiceError) in
            let count = try connection.pread(file.fd, into: chunk, at: file.offset)
            file.offset += Int64(count)
            return count
        }
    }

    /// Sent ahead (ChirpSentAhead.swift): counted as written once sent.
    public func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try inTransfers(buffer.count) { (range) throws(ServiceError) in
            try withFile(handle, "pwrite", sendingAhead: true) { (connection, file) throws(ServiceError) in
                try Self.reportWriteFailure(&file)
                let request = try ChirpRequest.pwrite(file.fd, length: range.count, offset: offset + Int64(range.lowerBound))
                try connection.sendAhead(request, payload: UnsafeRawBufferPointer(rebasing: buffer[range]), handle: handle.rawValue)
                return range.count
            }
        }
    }

    /// A refusal of a write sent ahead, once.
    private static func reportWriteFailure(_ file: inout ChirpOpenFile) throws(ServiceError) {
        if let failure = file.writeFailure {
            file.writeFailure = nil
            throw failure
        }
    }

    public func sync(_ handle: ServiceHandle) throws(ServiceError) {
        try withFile(handle, "fsync") { (_, file) throws(ServiceError) in try Self.reportWriteFailure(&file) }
    }

    /// After the writes sent ahead: they land first anyway, and a refusal is theirs to report.
    public func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError) {
        try withFile(handle, "ftruncate") { (connection, file) throws(ServiceError) in
            try Self.reportWriteFailure(&file)
            try connection.call(.ftruncate(file.fd, length: length))
        }
    }

    public func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError) {
        try withFile(handle, "fchmod") { (connection, file) throws(ServiceError) in
            _ = try connection.call(.fchmod(file.fd, mode: mode))
        }
    }

    /// Runs `transfer` on successive ranges of at most `maxTransfer` bytes
    /// (the server's limit) from where the last one ended, until all of
    /// `count` is done or one moves nothing (end of file); returns the total.
    private func inTransfers(_ count: Int, _ transfer: (Range<Int>) throws(ServiceError) -> Int) throws(ServiceError) -> Int {
        var done = 0
        while done < count {
            let moved = try transfer(done..<min(count, done + Self.maxTransfer))
            if moved == 0 { break }
            done += moved
        }
        return done
    }

    /// Sent ahead like pwrite, except with O_APPEND: the new offset is the
    /// server's end of file, which only its answers tell.
    public func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<min(buffer.count, Self.maxTransfer)])
        let appending = (session.flags(of: handle.rawValue) ?? 0) & O_APPEND != 0
        return try withFile(handle, "write", sendingAhead: !appending) { (connection, file) throws(ServiceError) in
            try Self.reportWriteFailure(&file)
            let request = try ChirpRequest.pwrite(file.fd, length: chunk.count, offset: file.offset)
            guard appending else {
                try connection.sendAhead(request, payload: chunk, handle: handle.rawValue)
                file.offset += Int64(chunk.count)
                return chunk.count
            }
            // The server's file was opened O_APPEND: the data went to its end.
            let count = try Int(connection.call(request, payload: chunk))
            try connection.call(.fstat(file.fd))
            file.offset = try connection.readStatus().size
            return count
        }
    }

    public func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus {
        try withFile(handle, "fstat") { (connection, file) throws(ServiceError) in
            try connection.call(.fstat(file.fd))
            return try connection.readStatus()
        }
    }

    /// The handle is gone whatever happens, as with close(2). Once the file's
    /// writes are answered, the close is sent ahead of its reply
    /// (ChirpSentAhead.swift). A file of a lost connection was closed by the
    /// server already, and so was one of a connection the server has since
    /// closed as idle, where the close is lost with the connection.
    public func close(_ handle: ServiceHandle) throws(ServiceError) {
        try session.withCurrentConnection { (connection, state) throws(ServiceError) in
            guard var file = state.files.removeValue(forKey: handle.rawValue) else { throw Self.badHandle(handle) }
            if let connection, connection.generation == file.generation {
                do throws(ServiceError) {
                    try connection.sendCloseAhead(file.fd)
                } catch {
                    ChirpSession.dropConnection(&state, because: error)
                }
            }
            try Self.reportWriteFailure(&file)
        }
    }

    /// Runs `body` with the file's fd on the current connection, opening the
    /// file again first if the connection is new since. A file that is no
    /// longer the one opened (another inode) is ESTALE, as on NFS.
    func withFile<T: Sendable>(_ handle: ServiceHandle, _ what: String, sendingAhead: Bool = false,
                               _ body: (ChirpConnection, inout ChirpOpenFile) throws(ServiceError) -> T) throws(ServiceError) -> T {
        try session.perform(what, idempotent: true, sendingAhead: sendingAhead) { (connection, state) throws(ServiceError) -> T in
            guard var file = state.files[handle.rawValue] else { throw Self.badHandle(handle) }
            if file.generation != connection.generation {
                try reopen(&file, on: connection)
                state.files[handle.rawValue] = file
            }
            defer { state.files[handle.rawValue] = file }
            return try body(connection, &file)
        }
    }

    private func reopen(_ file: inout ChirpOpenFile, on connection: ChirpConnection) throws(ServiceError) {
        func stale(_ why: String) -> ServiceError {
            ServiceError(errno: ESTALE, message: "chirp \(file.path): \(why) while the connection was down")
        }
        let reopened: (fd: Int64, status: FileStatus)
        do throws(ServiceError) {
            reopened = try connection.open(file.path, flags: ChirpOpenFlags.reopening(file.flags), mode: file.mode)
        } catch where error.errno == ENOENT {
            throw stale("removed")
        }
        guard reopened.status.ino == file.ino, reopened.status.dev == file.dev else {
            _ = try? connection.call(.close(reopened.fd))
            throw stale("replaced (device \(file.dev) inode \(file.ino), now \(reopened.status.dev) \(reopened.status.ino))")
        }
        file.fd = reopened.fd
        file.generation = connection.generation
    }

    private static func badHandle(_ handle: ServiceHandle) -> ServiceError {
        ServiceError(errno: EBADF, message: "chirp: no open file \(handle.rawValue)")
    }
}
