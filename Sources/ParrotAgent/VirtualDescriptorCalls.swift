import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// Calls on virtual descriptors (the filter stops only those): emulated on
/// the open file description, one protocol request per call at most.
extension Agent {
    /// The largest transfer one call moves: a longer read or write is short,
    /// as POSIX allows, and programs loop.
    static let transferLimit = 64 << 20

    typealias DescriptorCall = (SyscallStop, TaskState) throws(ServiceError) -> Int64

    /// Installs `body` for `name`; its result (or error's errno) is the call's.
    func installDescriptorCall(_ name: String, _ body: @escaping DescriptorCall) {
        install(name) { [unowned self] stop, _, task in
            let result: Int64
            do throws(ServiceError) { result = try body(stop, task) } catch {
                if log.enabled(.namespace) { log.write("[\(stop.tid)] \(name) \(stop.int32(0)): \(error)") }
                result = -Int64(Self.openFileErrno(error.errno))
            }
            try stop.emulate(returning: result)
            return .proceed
        }
    }

    /// A file already open whose server went away is an I/O error, as on a
    /// network filesystem: the connection's own errno (ECONNREFUSED on a
    /// read) is no answer a file gives. Opening a name keeps it.
    static func openFileErrno(_ errno: Int32) -> Int32 {
        [ECONNREFUSED, ECONNRESET, ECONNABORTED, ETIMEDOUT, EPIPE, ENOTCONN, EHOSTUNREACH, ENETUNREACH]
            .contains(errno) ? EIO : errno
    }

    func installVirtualDescriptorHandlers() {
        installTransferCalls()
        installDescriptorTableCalls()
        installDescriptorStatusCalls()
        installRefusedDescriptorCalls()
    }

    /// The open file description behind virtual descriptor `fd` (EBADF otherwise).
    func openFile(_ task: TaskState, _ fd: Int32) throws(ServiceError) -> OpenFile {
        guard let file = task.process.descriptors[fd]?.file else { throw ServiceError(errno: EBADF) }
        return file
    }

    /// The open file, for a call an O_PATH descriptor cannot make (EBADF).
    func fileForData(_ task: TaskState, _ fd: Int32) throws(ServiceError) -> OpenFile {
        let file = try openFile(task, fd)
        if file.isPathOnly { throw ServiceError(errno: EBADF) }
        return file
    }

    /// The open file, for a call the service makes by name only (fchown): a
    /// file whose name was removed or given to another file is out of
    /// reach, as NFS says of a file gone.
    func namedFile(_ task: TaskState, _ fd: Int32) throws(ServiceError) -> OpenFile {
        let file = try fileForData(task, fd)
        if file.isDetached { throw ServiceError(errno: ESTALE) }
        return file
    }

    /// For a call the service makes by name or, on some, by descriptor
    /// (ftruncate, fchmod): nil while the name is the file's; once it went,
    /// the server's descriptor where it takes such calls, else ESTALE.
    func handleOnceNameWent(_ file: OpenFile) throws(ServiceError) -> ServiceHandle? {
        guard file.isDetached else { return nil }
        guard let handle = file.handle, file.service.writesAtAnyOffset else { throw ServiceError(errno: ESTALE) }
        return handle
    }

    // MARK: data

    private func installTransferCalls() {
        installDescriptorCall("read") { [unowned self] stop, task throws(ServiceError) in
            try readRemote(stop, openFile(task, stop.int32(0)), to: [(stop.args[1], stop.args[2])], at: nil)
        }
        installDescriptorCall("pread64") { [unowned self] stop, task throws(ServiceError) in
            try readRemote(stop, openFile(task, stop.int32(0)), to: [(stop.args[1], stop.args[2])],
                           at: try position(stop.args[3]))
        }
        installDescriptorCall("write") { [unowned self] stop, task throws(ServiceError) in
            try writeRemote(stop, openFile(task, stop.int32(0)), from: [(stop.args[1], stop.args[2])], at: nil)
        }
        installDescriptorCall("pwrite64") { [unowned self] stop, task throws(ServiceError) in
            try writeRemote(stop, openFile(task, stop.int32(0)), from: [(stop.args[1], stop.args[2])],
                            at: try position(stop.args[3]))
        }
        // readv/writev(fd, iov, n); preadv/pwritev(fd, iov, n, pos); *v2 add flags,
        // and an offset of -1 means the file's own.
        for (name, positioned) in [("readv", false), ("preadv", true), ("preadv2", true)] {
            installDescriptorCall(name) { [unowned self] stop, task throws(ServiceError) in
                let file = try openFile(task, stop.int32(0))
                let vectors = try ioVectors(stop, stop.args[1], stop.args[2])
                return try readRemote(stop, file, to: vectors, at: positioned ? try optionalPosition(stop.args[3]) : nil)
            }
        }
        for (name, positioned) in [("writev", false), ("pwritev", true), ("pwritev2", true)] {
            installDescriptorCall(name) { [unowned self] stop, task throws(ServiceError) in
                let file = try openFile(task, stop.int32(0))
                let vectors = try ioVectors(stop, stop.args[1], stop.args[2])
                return try writeRemote(stop, file, from: vectors, at: positioned ? try optionalPosition(stop.args[3]) : nil)
            }
        }
        installDescriptorCall("lseek") { [unowned self] stop, task throws(ServiceError) in
            try seek(openFile(task, stop.int32(0)), Int64(bitPattern: stop.args[1]), whence: stop.int32(2))
        }
        installDescriptorCall("getdents64") { [unowned self] stop, task throws(ServiceError) in
            try listDirectory(stop, fileForData(task, stop.int32(0)), to: stop.args[1], size: Int(min(stop.args[2], 1 << 24)))
        }
    }

    private func position(_ value: UInt64) throws(ServiceError) -> Int64 {
        let offset = Int64(bitPattern: value)
        guard offset >= 0 else { throw ServiceError(errno: EINVAL) }
        return offset
    }

    private func optionalPosition(_ value: UInt64) throws(ServiceError) -> Int64? {
        Int64(bitPattern: value) == -1 ? nil : try position(value)
    }

    /// The (address, length) pairs of an iovec array.
    private func ioVectors(_ stop: SyscallStop, _ address: UInt64, _ count: UInt64) throws(ServiceError) -> [(UInt64, UInt64)] {
        guard count <= 1024 else { throw ServiceError(errno: EINVAL) }
        if count == 0 { return [] }
        let bytes = try memory(stop) { try stop.memory.read(address, count: Int(count) * 16) }
        return (0..<Int(count)).map { (bytes.load(UInt64.self, at: $0 * 16), bytes.load(UInt64.self, at: $0 * 16 + 8)) }
    }

    /// Reads from the file at `offset` (nil: its own, advanced) into the
    /// program's buffers, in one request.
    private func readRemote(_ stop: SyscallStop, _ file: OpenFile, to vectors: [(UInt64, UInt64)],
                            at offset: Int64?) throws(ServiceError) -> Int64 {
        guard file.isReadable else { throw ServiceError(errno: EBADF) }
        if file.isDirectory { throw ServiceError(errno: EISDIR) }
        guard let handle = file.handle else { throw ServiceError(errno: EBADF) }
        let total = min(vectors.reduce(0) { $0 + Int(min($1.1, UInt64(Int32.max))) }, Self.transferLimit)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 16)
        defer { buffer.deallocate() }
        let at: Int64
        if let offset { at = offset } else { at = try position(of: file) }
        let count = try file.service.pread(handle, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<total]), at: at)
        var done = 0
        for (address, length) in vectors where done < count {
            let piece = min(Int(length), count - done)
            try memory(stop) { try stop.memory.write(UnsafeRawBufferPointer(rebasing: buffer[done..<(done + piece)]), to: address) }
            done += piece
        }
        if offset == nil { file.offset += Int64(count) }
        return Int64(count)
    }

    private func writeRemote(_ stop: SyscallStop, _ file: OpenFile, from vectors: [(UInt64, UInt64)],
                             at offset: Int64?) throws(ServiceError) -> Int64 {
        guard file.isWritable, file.handle != nil else { throw ServiceError(errno: EBADF) }
        let total = min(vectors.reduce(0) { $0 + Int(min($1.1, UInt64(Int32.max))) }, Self.transferLimit)
        file.hasWritten = true
        let gathered = gatheredWrites()
        if let failure = gathered.takeFailure(file) { throw failure }
        gathered.flushAll(except: file)  // another file's run, perhaps the same remote file
        // A file opened O_APPEND at the server appends whatever the offset.
        let at = offset ?? file.offset
        if total <= GatheredWrites.smallWrite && file.flags & O_APPEND == 0 {
            var room = gathered.room(in: file, count: total, at: at)
            if room == nil {
                try gathered.flushReporting(file)
                room = gathered.room(in: file, count: total, at: at)
            }
            if let room {
                try readProgramBuffers(stop, vectors, into: room)
                gathered.filled(file, total, at: at)
                if offset == nil { file.offset += Int64(total) }
                return Int64(total)
            }
        }
        try gathered.flushReporting(file)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 16)
        defer { buffer.deallocate() }
        let written = UnsafeMutableRawBufferPointer(rebasing: buffer[..<total])
        try readProgramBuffers(stop, vectors, into: written)
        let count = try sendWrite(file, UnsafeRawBufferPointer(written), at: at)
        // Appended where the server's file ended: not known here without asking.
        if offset == nil {
            if file.flags & O_APPEND != 0 { file.offsetIsAtEnd = true } else { file.offset += Int64(count) }
        }
        return Int64(count)
    }

    /// The file's offset, asked of the server after appends.
    func position(of file: OpenFile) throws(ServiceError) -> Int64 {
        if file.offsetIsAtEnd {
            file.offset = try size(of: file)
            file.offsetIsAtEnd = false
        }
        return file.offset
    }

    /// Fills `buffer` from the program's buffers, in order.
    private func readProgramBuffers(_ stop: SyscallStop, _ vectors: [(UInt64, UInt64)],
                                    into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) {
        var done = 0
        for (address, length) in vectors where done < buffer.count {
            let piece = min(Int(length), buffer.count - done)
            try memory(stop) { try stop.memory.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + piece)]), from: address) }
            done += piece
        }
    }

    /// Writes `bytes` to the remote file at `offset` (and to its cache entry
    /// when it is kept there); returns how much the service took.
    func sendWrite(_ file: OpenFile, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        guard let handle = file.handle else { throw ServiceError(errno: EBADF) }
        let count: Int
        do throws(ServiceError) {
            count = try file.service.pwrite(handle, from: bytes, at: offset)
        } catch {
            streamedCopies?.drop(file)  // the server lacks some write: the copy would be wrong
            throw error
        }
        streamedCopies?.wrote(file, UnsafeRawBufferPointer(rebasing: bytes[..<count]), at: offset)
        return count
    }

    private func seek(_ file: OpenFile, _ offset: Int64, whence: Int32) throws(ServiceError) -> Int64 {
        let seekData: Int32 = 3, seekHole: Int32 = 4
        if file.isDirectory {
            // Positions in a listing are the d_off values getdents handed out.
            guard whence == SEEK_SET || (whence == SEEK_CUR && offset == 0), offset >= 0 else { throw ServiceError(errno: EINVAL) }
            if whence == SEEK_SET {
                if offset == 0 { file.listing = nil }
                file.offset = offset
            }
            return file.offset
        }
        let target: Int64
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = try position(of: file) + offset
        case SEEK_END: target = try size(of: file) + offset
        case seekData:
            guard offset >= 0, offset < (try size(of: file)) else { throw ServiceError(errno: ENXIO) }
            target = offset
        case seekHole:
            let size = try size(of: file)
            guard offset >= 0, offset < size else { throw ServiceError(errno: ENXIO) }
            target = size
        default: throw ServiceError(errno: EINVAL)
        }
        guard target >= 0 else { throw ServiceError(errno: EINVAL) }
        file.offset = target
        file.offsetIsAtEnd = false
        return target
    }

    func size(of file: OpenFile) throws(ServiceError) -> Int64 {
        try status(of: file).size
    }

    func status(of file: OpenFile) throws(ServiceError) -> FileStatus {
        let status: FileStatus
        if let handle = file.handle { status = try file.service.fstat(handle) } else { status = try namedStatus(file) }
        // A file cut loose from its name is not the name's cached copy.
        return file.isDetached ? adjusted(status) : withCacheIdentity(adjusted(status), file.location)
    }

    private func namedStatus(_ file: OpenFile) throws(ServiceError) -> FileStatus {
        if file.isDetached { throw ServiceError(errno: ESTALE) }
        if file.isLinkItself { return try file.service.lstat(file.location.path) }
        return try file.service.stat(file.location.path)
    }

    /// getdents64: the listing is read once per pass; the offset counts entries.
    private func listDirectory(_ stop: SyscallStop, _ file: OpenFile, to address: UInt64, size: Int) throws(ServiceError) -> Int64 {
        guard file.isDirectory else { throw ServiceError(errno: ENOTDIR) }
        if file.listing == nil { file.listing = try completeListing(file) }
        let listing = file.listing!
        var bytes: [UInt8] = []
        var index = Int(file.offset)
        while index < listing.count {
            let entry = listing[index]
            // cctools' server sends a zeroed status for an entry it cannot stat:
            // inode 0 would hide the name (readdir consumers skip it).
            let status = entry.status.flatMap { $0.mode & S_IFMT == 0 || $0.ino == 0 ? nil : $0 }
            let record = KernelStructs.dirent64(name: entry.name, inode: status?.ino ?? Self.inode(entry.name),
                                                nextOffset: Int64(index + 1),
                                                type: KernelStructs.directoryEntryType(mode: status?.mode))
            if bytes.count + record.count > size {
                if bytes.isEmpty { throw ServiceError(errno: EINVAL) }
                break
            }
            bytes += record
            index += 1
        }
        try memory(stop) { try stop.memory.write(bytes, to: address) }
        file.offset = Int64(index)
        return Int64(bytes.count)
    }

    /// The service's listing with "." and ".." first, as the kernel lists.
    private func completeListing(_ file: OpenFile) throws(ServiceError) -> [DirectoryEntry] {
        var entries = try file.service.readdir(file.location.path)
        let dots = entries.filter { $0.name == "." || $0.name == ".." }
        entries.removeAll { $0.name == "." || $0.name == ".." }
        let dot = dots.first { $0.name == "." } ?? DirectoryEntry(name: ".", status: nil)
        let dotdot = dots.first { $0.name == ".." } ?? DirectoryEntry(name: "..", status: nil)
        return [dot, dotdot] + entries
    }

    /// A stable nonzero inode for a name the service listed without one
    /// (readdir skips entries whose inode is 0).
    static func inode(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash | 1
    }

    // MARK: the descriptor table

    private func installDescriptorTableCalls() {
        installDescriptorCall("close") { [unowned self] stop, task throws(ServiceError) in
            guard let file = task.process.descriptors[stop.int32(0)]?.file else { throw ServiceError(errno: EBADF) }
            releaseRecordLocks(task.process, file)
            // The number is gone whatever the server says (POSIX close).
            if let last = task.process.descriptors.remove(stop.int32(0)) {
                try closeRemoteReporting(last)
            } else if file.isOnlyKept, let handle = file.handle {
                // Its last descriptor, the handle kept for a copy: this close
                // still reports the writes made through it that were refused.
                try gathered?.flushReporting(file)
                try file.service.sync(handle)
            }
            return 0
        }
        install("dup") { [unowned self] stop, tracee, task in
            guard let file = task.process.descriptors[stop.int32(0)]?.file else { try stop.fail(EBADF); return .proceed }
            // dup returns the lowest free number: after close(1), dup(fd) is
            // how some programs (tar's xdup2) put a file on stdout.
            if let free = lowestFreeStandardDescriptor(stop.tid) {
                return try materialize(file, at: free, closeOnExec: false, stop, tracee: tracee)
            }
            guard let fd = task.process.descriptors.insert(file, closeOnExec: false) else { try stop.fail(EMFILE); return .proceed }
            try stop.emulate(returning: Int64(fd))
            return .proceed
        }
        install("dup2") { [unowned self] stop, tracee, task in
            try duplicate(stop, tracee: tracee, task: task, flags: 0, isDup2: true)
        }
        install("dup3") { [unowned self] stop, tracee, task in
            try duplicate(stop, tracee: tracee, task: task, flags: stop.int32(2), isDup2: false)
        }
        install("close_range") { [unowned self] stop, _, task in
            // The kernel closes the native ones; the virtual ones in range are ours.
            let first = UInt32(truncatingIfNeeded: stop.args[0]), last = UInt32(truncatingIfNeeded: stop.args[1])
            let cloexecOnly = stop.args[2] & 4 != 0
            for fd in task.process.descriptors.descriptors where UInt32(fd) >= first && UInt32(fd) <= last {
                if cloexecOnly {
                    task.process.descriptors.setCloseOnExec(fd, true)
                    continue
                }
                if let file = task.process.descriptors[fd]?.file { releaseRecordLocks(task.process, file) }
                if let closed = task.process.descriptors.remove(fd) { closeRemote(closed) }
            }
            return .proceed
        }
        installDescriptorCall("fcntl") { [unowned self] stop, task throws(ServiceError) in
            try control(task, stop.int32(0), command: stop.int32(1), argument: stop.args[2], stop)
        }
        installDescriptorCall("ioctl") { [unowned self] stop, task throws(ServiceError) in
            let fd = stop.int32(0)
            let file = try openFile(task, fd)
            switch UInt32(truncatingIfNeeded: stop.args[1]) {
            case 0x5451: task.process.descriptors.setCloseOnExec(fd, true); return 0   // FIOCLEX
            case 0x5450: task.process.descriptors.setCloseOnExec(fd, false); return 0  // FIONCLEX
            case 0x541B:  // FIONREAD: what is left to read
                guard !file.isDirectory else { throw ServiceError(errno: ENOTTY) }
                let left = Int32(clamping: max(0, try size(of: file) - position(of: file)))
                try memory(stop) { try stop.memory.write(withUnsafeBytes(of: left) { Array($0) }, to: stop.args[2]) }
                return 0
            default: throw ServiceError(errno: ENOTTY)  // not a terminal, no device controls
            }
        }
    }

    /// 0, 1 or 2 when one of them is closed in `tid`'s process (the kernel's
    /// dup would hand that out before any virtual number).
    func lowestFreeStandardDescriptor(_ tid: pid_t) -> Int32? {
        (0...2).first { fd in access("/proc/\(tid)/fd/\(fd)", F_OK) != 0 && errno == ENOENT }.map(Int32.init)
    }

    private func control(_ task: TaskState, _ fd: Int32, command: Int32, argument: UInt64,
                         _ stop: SyscallStop) throws(ServiceError) -> Int64 {
        let file = try openFile(task, fd)
        let descriptors = task.process.descriptors
        // O_DIRECT and O_NOATIME (Linux values; glibc hides their names).
        let statusFlags: Int32 = O_APPEND | O_NONBLOCK | O_ASYNC | 0o40000 | 0o1000000
        switch command {
        case F_DUPFD, F_DUPFD_CLOEXEC:
            let minimum = Int32(truncatingIfNeeded: argument)
            // Past the last number, as past RLIMIT_NOFILE for the kernel.
            guard minimum >= 0, Int64(minimum) < VirtualDescriptor.end else { throw ServiceError(errno: EINVAL) }
            guard let copy = descriptors.insert(file, closeOnExec: command == F_DUPFD_CLOEXEC, atLeast: minimum) else {
                throw ServiceError(errno: EMFILE)
            }
            return Int64(copy)
        case F_GETFD: return descriptors[fd]!.closeOnExec ? Int64(FD_CLOEXEC) : 0
        case F_SETFD:
            descriptors.setCloseOnExec(fd, argument & UInt64(FD_CLOEXEC) != 0)
            return 0
        case F_GETFL:
            return Int64((file.flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE_FLAG)
        case F_SETFL:
            file.flags = (file.flags & ~statusFlags) | (Int32(truncatingIfNeeded: argument) & statusFlags)
            return 0
        // (Lock commands are LockCalls'.)
        case F_GETOWN, F_SETOWN, 10, 11:  // F_SETSIG, F_GETSIG
            return 0
        default:
            throw ServiceError(errno: EINVAL)
        }
    }

    // MARK: status and attributes

    private func installDescriptorStatusCalls() {
        installDescriptorCall("fstat") { [unowned self] stop, task throws(ServiceError) in
            let status = try status(of: openFile(task, stop.int32(0)))
            try writeStat(status, to: stop.args[1], stop)
            return 0
        }
        installDescriptorCall("fstatfs") { [unowned self] stop, task throws(ServiceError) in
            let file = try openFile(task, stop.int32(0))
            let status = try file.service.statfs(file.location.path)
            try memory(stop) { try stop.memory.write(KernelStructs.statfs(status), to: stop.args[1]) }
            return 0
        }
        // By name while the name is the file's (a kept answer for it is
        // then forgotten); by the server's descriptor once the name went.
        installDescriptorCall("ftruncate") { [unowned self] stop, task throws(ServiceError) in
            let file = try fileForData(task, stop.int32(0))
            guard file.isWritable else { throw ServiceError(errno: file.isDirectory ? EISDIR : EINVAL) }
            let length = try position(stop.args[1])
            streamedCopies?.drop(file)
            if let handle = try handleOnceNameWent(file) {
                try file.service.truncate(handle, length: length)
            } else {
                try file.service.truncate(file.location.path, length: length)
            }
            return 0
        }
        installDescriptorCall("fchmod") { [unowned self] stop, task throws(ServiceError) in
            let file = try fileForData(task, stop.int32(0))
            let mode = UInt32(truncatingIfNeeded: stop.args[1]) & 0o7777
            if let handle = try handleOnceNameWent(file) {
                try file.service.chmod(handle, mode: mode)
            } else {
                try file.service.chmod(file.location.path, mode: mode)
            }
            return 0
        }
        installDescriptorCall("fchown") { [unowned self] stop, task throws(ServiceError) in
            let file = try namedFile(task, stop.int32(0))
            try file.service.chown(file.location.path, uid: UInt32(truncatingIfNeeded: stop.args[1]),
                                   gid: UInt32(truncatingIfNeeded: stop.args[2]))
            return 0
        }
        // A request is done when its reply comes (the server's disk is its
        // own): syncing waits for the replies of writes sent ahead.
        for name in ["fsync", "fdatasync", "syncfs"] {
            installDescriptorCall(name) { [unowned self] stop, task throws(ServiceError) in
                let file = try fileForData(task, stop.int32(0))
                try gathered?.flushReporting(file)
                if let handle = file.handle {
                    do throws(ServiceError) { try file.service.sync(handle) } catch {
                        streamedCopies?.drop(file)
                        throw error
                    }
                }
                return 0
            }
        }
        for name in ["flock", "fadvise64", "readahead", "sync_file_range"] {
            installDescriptorCall(name) { [unowned self] stop, task throws(ServiceError) in
                _ = try fileForData(task, stop.int32(0))
                return 0
            }
        }
    }

    private func installRefusedDescriptorCalls() {
        install("mmap") { [unowned self] stop, _, task in
            guard let file = task.process.descriptors[stop.int32(4)]?.file else { try stop.fail(EBADF); return .proceed }
            if file.isDirectory { try stop.fail(ENODEV); return .proceed }
            return try mapCopy(file, stop)
        }
        // What a local filesystem answers for an fd that cannot do it.
        let refusals: [(String, Int32)] = [
("epoll_ctl", EPERM), ("fallocate", EOPNOTSUPP),
            ("sendfile", EINVAL), ("splice", EINVAL), ("tee", EINVAL), ("vmsplice", EBADF),
            ("copy_file_range", EXDEV), ("getdents", ENOSYS), ("quotactl_fd", EOPNOTSUPP), ("cachestat", EOPNOTSUPP),
            ("fgetxattr", EOPNOTSUPP), ("fsetxattr", EOPNOTSUPP), ("flistxattr", EOPNOTSUPP), ("fremovexattr", EOPNOTSUPP),
        ]
        for (name, errno) in refusals {
            installDescriptorCall(name) { _, _ throws(ServiceError) in throw ServiceError(errno: errno) }
        }
    }
}
