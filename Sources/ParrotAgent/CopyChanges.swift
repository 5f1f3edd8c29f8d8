import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// What a program did to a local copy of a remote file (materialized or
/// cached), as inotify reports it, and how that goes back to the server.
/// Writes through a shared mapping raise no inotify event: the copy's mtime,
/// which the kernel moves for them, tells them apart from its baseline.
struct CopyChanges {
    /// The remote file's own permission bits.
    let remoteMode: UInt32
    /// Seen written (IN_MODIFY): the data goes back.
    var modified = false
    /// Seen chmod'ed or touched (IN_ATTRIB): mode and times go back
    /// (`touch` opens a file onto stdin and sets its times there).
    var attributesChanged = false
    /// Mapped shared and writable (seen where the agent maps it): written,
    /// whatever the mtime says.
    var mappedForWriting = false
    /// A chmod seen (an IN_ATTRIB that changed the copy's mode) and not sent
    /// yet. A chmod to the mode the copy has is not told apart from a chown
    /// or a utime to the same values (nor from the cache linking the copy),
    /// and the copy's mode has bits the server's may lack: it is not sent.
    var modeSet = false
    /// The copy's mode as the last event left it.
    private var lastMode: UInt32?
    /// For a copy of a file opened only to append: where the bytes not yet
    /// sent start. Such a copy starts empty and goes back as an append (the
    /// server's file may have grown meanwhile: other appenders keep theirs).
    var appendsFrom: Int64?

    /// The copy's mtime when it was handed to the program, and when the
    /// program last set its times (a later difference is a write).
    private var baselineTime: timespec?
    private var setTime: timespec?

    init(remoteMode: UInt32) {
        self.remoteMode = remoteMode
    }

    /// The copy at `path` is ready: what it holds now is what the server has.
    mutating func watching(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        baselineTime = status.st_mtim
        lastMode = UInt32(status.st_mode & 0o7777)
    }

    /// The copy's bits as the agent sets them, before it is watched: the
    /// remote's, readable and writable by the agent. A difference later is
    /// the program's chmod.
    var baselineMode: UInt32 { remoteMode | 0o600 }

    /// Whether anything is to go back from the copy at `path`.
    mutating func isChanged(at path: String) -> Bool {
        noticeMappedWrites(path)
        return modified || attributesChanged
    }

    /// Notes an event of the copy at `path`; a chmod of a copy whose name
    /// went goes through `nameless` at once (see sendMode): returns its refusal.
    mutating func note(_ mask: UInt32, of path: String, nameless: ServiceHandle?, on service: FileService) -> ServiceError? {
        guard modeChanged(by: mask, of: path), let nameless else { return nil }
        return sendMode(from: path, through: nameless, on: service)
    }

    /// Whether the event changed the copy's mode (see modeSet).
    private mutating func modeChanged(by mask: UInt32, of path: String) -> Bool {
        if mask & UInt32(IN_MODIFY) != 0 { modified = true }
        guard mask & UInt32(IN_ATTRIB) != 0 else { return false }
        // Only a chmod moves the mode, and it raises IN_ATTRIB: the mode is
        // compared from one such event to the next (events are read late, so
        // what is read is the copy's state after all of them).
        var status = stat()
        let found = lstat(path, &status) == 0
        let mode = UInt32(status.st_mode & 0o7777)
        defer { if found { lastMode = mode } }
        attributesChanged = true
        setTime = found ? status.st_mtim : nil
        guard found, let before = lastMode, mode != before else { return false }
        modeSet = true
        return true
    }

    /// A write through a shared mapping moved the mtime past what the copy
    /// had (and past what the program set, for `touch` and `cp -p`).
    private mutating func noticeMappedWrites(_ path: String) {
        if mappedForWriting { modified = true }
        guard !modified, let baselineTime, let now = Self.modificationTime(path) else { return }
        if !Self.same(now, baselineTime) && !(setTime.map { Self.same(now, $0) } ?? false) { modified = true }
    }

    /// Sends the copy open at `fd` from `offset` on to the end of the
    /// server's file, moving `offset` past every block sent: a failure the
    /// server reports later (writes go out ahead of their replies) must not
    /// send again what may have landed.
    /// `handle`: the server's file already open to append, left open;
    /// without one a handle is opened for the call. Nothing new: no request.
    static func append(_ fd: Int32, from offset: inout Int64, to path: String, on service: FileService,
                       through kept: ServiceHandle? = nil) throws(ServiceError) {
        var local = stat()
        guard fstat(fd, &local) == 0 else { throw ServiceError.posix("fstat", "a local copy") }
        guard Int64(local.st_size) > offset else { return }
        let handle: ServiceHandle
        if let kept { handle = kept } else { handle = try service.open(path, flags: O_WRONLY | O_APPEND, mode: 0) }
        do throws(ServiceError) {
            try send(fd, from: &offset, through: handle, appending: true, on: service, path: path)
        } catch {
            if kept == nil { try? service.close(handle) }
            throw error
        }
        if kept == nil { try service.close(handle) }
    }

    /// Sends the copy open at `fd` from `offset` to its end through `handle`,
    /// moving `offset` past every byte sent: to the same offsets of the
    /// server's file, or (`appending`: the handle is open to append, and the
    /// offset does not count there) to its end.
    private static func send(_ fd: Int32, from offset: inout Int64, through handle: ServiceHandle, appending: Bool,
                             on service: FileService, path: String) throws(ServiceError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            guard count >= 0 else { throw ServiceError.posix("read", "a local copy") }
            if count == 0 { return }
            var sent = 0
            while sent < count {
                let n = try service.pwrite(handle, from: UnsafeRawBufferPointer(rebasing: buffer[sent..<count]),
                                           at: appending ? 0 : offset)
                guard n > 0 else { throw ServiceError(errno: EIO, message: "\(path): the server took no more bytes") }
                sent += n
                offset += Int64(n)
            }
        }
    }

    private static func modificationTime(_ path: String) -> timespec? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mtim : nil
    }

    private static func same(_ a: timespec, _ b: timespec) -> Bool { a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec }

    /// Everything was sent from the copy at `path`: nothing to send until the next change.
    mutating func reset(at path: String) {
        modified = false
        attributesChanged = false
        modeSet = false
        watching(path)
    }

    /// Sends the data if it was written and the mode if it was set, through
    /// `handle`; returns what could not go: times (Chirp sets none by
    /// descriptor, and a chmod is not told apart from a utime), a refused mode.
    mutating func giveBack(from localPath: String, through handle: ServiceHandle, on service: FileService,
                           name path: String) throws(ServiceError) -> [String] {
        noticeMappedWrites(localPath)
        if modified {
            let fd = open(localPath, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ServiceError.posix("open", localPath) }
            defer { close(fd) }
            if var reached = appendsFrom {
                defer { appendsFrom = reached }
                try Self.append(fd, from: &reached, to: path, on: service, through: handle)
            } else {
                var length: Int64 = 0
                try Self.send(fd, from: &length, through: handle, appending: false, on: service, path: path)
                try service.truncate(handle, length: length)
            }
        }
        guard attributesChanged else { return [] }
        var left = ["times (if any)"]
        if modeSet, let refused = sendMode(from: localPath, through: handle, on: service) {
            left.insert("mode (\(refused))", at: 0)
        }
        return left
    }

    /// The program's chmod of a held copy goes through the held descriptor
    /// when the agent sees it (its inotify events are read before every
    /// remote call), so that it takes its place among chmods made through
    /// the file's other names; returns a refusal.
    mutating func sendMode(from localPath: String, through handle: ServiceHandle, on service: FileService) -> ServiceError? {
        var local = stat()
        guard lstat(localPath, &local) == 0 else { return nil }
        do throws(ServiceError) { try service.chmod(handle, mode: local.st_mode & 0o7777) } catch { return error }
        modeSet = false
        return nil
    }

    /// Sends the data if it was written, then mode and times if they were
    /// set; returns whether data went.
    mutating func giveBack(from localPath: String, to path: String, on service: FileService) throws(ServiceError) -> Bool {
        noticeMappedWrites(localPath)
        var local = stat()
        guard lstat(localPath, &local) == 0 else { throw ServiceError.posix("stat", localPath) }
        let chmodded = local.st_mode & 0o7777 != baselineMode
        if modified, let from = appendsFrom {
            let fd = open(localPath, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ServiceError.posix("open", localPath) }
            defer { close(fd) }
            var reached = from
            defer { appendsFrom = reached }
            try Self.append(fd, from: &reached, to: path, on: service)
        } else if modified {
            _ = try service.putFile(localPath, to: path, mode: chmodded ? local.st_mode & 0o7777 : remoteMode)
        }
        // Setting the mtime alone raises IN_MODIFY, not IN_ATTRIB (`touch -m`):
        // a write leaves mtime and ctime equal, a time set after it does not.
        let timeSetAfterWrites = modified && !Self.same(local.st_mtim, local.st_ctim)
        if attributesChanged || timeSetAfterWrites {
            if chmodded { try service.chmod(path, mode: local.st_mode & 0o7777) }
            try service.utimes(path, access: Timestamp(local.st_atim), modification: Timestamp(local.st_mtim))
        }
        return modified
    }
}
