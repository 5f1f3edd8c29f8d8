import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// Path calls whose path leads into a remote service: emulated completely
/// (one stop, one or two protocol requests), the result written back.
extension Agent {
    /// Emulates `name` on resolved arguments of which at least one is remote.
    func emulateRemote(_ name: String, _ stop: SyscallStop, task: TaskState,
                       _ list: [ResolvedArgument]) throws -> Resume {
        let result: Int64
        invalidateCached(name, list, stop)
        do throws(ServiceError) {
            result = try remoteResult(name, stop, task: task, list)
        } catch {
            if log.enabled(.namespace) {
                log.write("[\(stop.tid)] \(name) \(list.first?.resolution.virtualPath ?? ""): \(error)")
            }
            // Without the server's answer it may have changed the names anyway.
            if !Self.refusals.contains(error.errno) { invalidateCached(name, list, stop, failed: true) }
            result = -Int64(error.errno)
        }
        if let resume = watchingSends(name, stop, task: task, result: result) { return resume }
        try finishRemote(stop, result)
        return .proceed
    }

    /// Answers by which the server (or the agent, before asking it) refused
    /// a call: nothing was changed.
    static let refusals: Set<Int32> = [
        ENOENT, EACCES, EPERM, EXDEV, EINVAL, EISDIR, ENOTDIR, ENOTEMPTY, EEXIST, EBUSY, EROFS, ENAMETOOLONG, ELOOP,
    ]

    /// Memory errors while writing a result are the program's EFAULT.
    func finishRemote(_ stop: SyscallStop, _ result: Int64) throws {
        try stop.emulate(returning: result)
    }

    private func remoteResult(_ name: String, _ stop: SyscallStop, task: TaskState,
                              _ list: [ResolvedArgument]) throws(ServiceError) -> Int64 {
        guard let first = list.first, let location = first.resolution.remote else {
            // Only a second path is remote (rename, link): across services.
            throw ServiceError(errno: EXDEV)
        }
        // A call on a descriptor (utimensat with no path, AT_EMPTY_PATH) whose
        // name went: the protocols make it by name (the stats are answered apart).
        if let file = first.descriptor, file.isDetached, name != "newfstatat" && name != "statx" {
            throw ServiceError(errno: ESTALE)
        }
        // The path's spelling first (every remote call but exec and cached opens comes here).
        if let refusal = (try? shapeRefusal(name, stop, list)) ?? nil { throw ServiceError(errno: refusal) }
        let service = try services.driver(for: location)
        let path = location.path
        let args = stop.args
        switch name {
        case "open", "creat", "openat", "openat2":
            let (flags, mode): (Int32, UInt32)
            switch name {
            case "open": (flags, mode) = (Int32(truncatingIfNeeded: args[1]), UInt32(truncatingIfNeeded: args[2]))
            case "creat": (flags, mode) = (O_WRONLY | O_CREAT | O_TRUNC, UInt32(truncatingIfNeeded: args[1]))
            case "openat": (flags, mode) = (Int32(truncatingIfNeeded: args[2]), UInt32(truncatingIfNeeded: args[3]))
            default:
                let how = try memory(stop) { try stop.memory.read(args[2], count: 16) }
                (flags, mode) = (Int32(truncatingIfNeeded: how.load(UInt64.self, at: 0)),
                                 UInt32(truncatingIfNeeded: how.load(UInt64.self, at: 8)))
            }
            // The umask costs a read of /proc: only a call that may create needs it.
            let creates = flags & O_CREAT != 0 || flags & O_TMPFILE_FLAG == O_TMPFILE_FLAG
            // A trailing slash (or `/.`) follows a last link even with O_NOFOLLOW (`rm -r link/`).
            let followed = Self.asksForDirectory(first.original) ? flags & ~O_NOFOLLOW : flags
            let file = try openRemote(location, service: service, flags: followed,
                                      mode: creates ? mode & 0o7777 & ~umask(of: stop.tid) : 0)
            guard let fd = task.process.descriptors.insert(file, closeOnExec: flags & O_CLOEXEC != 0) else {
                closeRemote(file)
                throw ServiceError(errno: EMFILE)
            }
            // Streamed instead of copied (cache mode): the entry follows the writes.
            if let cache = options.cache, flags & O_TRUNC != 0 || flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL,
               streamsWrites(flags, location) {
                streamedCopies(cache).start(file, key: Self.cacheKey(location))
            }
            if log.enabled(.namespace) { log.write("[\(stop.tid)] \(location) opened as \(fd)") }
            return Int64(fd)
        case "stat", "lstat", "newfstatat":
            let status = try remoteStatus(first, service, location)
            try writeStat(status, to: args[name == "newfstatat" ? 2 : 1], stop)
            return 0
        case "statx":
            let status = try remoteStatus(first, service, location)
            try memory(stop) { try stop.memory.write(KernelStructs.statx(status), to: args[4]) }
            return 0
        case "access", "faccessat", "faccessat2":
            try service.access(path, mode: Int32(truncatingIfNeeded: args[name == "access" ? 1 : 2]))
            return 0
        case "readlink", "readlinkat":
            let target = Array(try service.readlink(path).utf8)
            let (buffer, size) = name == "readlink" ? (args[1], args[2]) : (args[2], args[3])
            guard Int64(bitPattern: size) > 0 else { throw ServiceError(errno: EINVAL) }
            let bytes = Array(target.prefix(Int(min(size, 1 << 20))))
            try memory(stop) { try stop.memory.write(bytes, to: buffer) }
            return Int64(bytes.count)
        case "truncate":
            try service.truncate(path, length: Int64(bitPattern: args[1]))
            // The name may be a link: copies cached under the file's other names go.
            copied?.changed(try? service.stat(path), on: service)
            return 0
        case "mkdir", "mkdirat":
            try service.mkdir(path, mode: UInt32(truncatingIfNeeded: args[name == "mkdir" ? 1 : 2]) & 0o7777 & ~umask(of: stop.tid))
            return 0
        case "rmdir":
            try service.rmdir(path)
            return 0
        case "unlink":
            let location = spelledAsOpen(location, service: service)
            let plan = beforeRemoving(location, service: service)
            do throws(ServiceError) { try service.unlink(path) } catch {
                plan.abandon()
                throw error
            }
            removed(location, plan)
            return 0
        case "unlinkat":
            let removeDirectory: UInt64 = 0x200
            if args[2] & removeDirectory != 0 {
                try service.rmdir(path)
            } else {
                let location = spelledAsOpen(location, service: service)
                let plan = beforeRemoving(location, service: service)
                do throws(ServiceError) { try service.unlink(path) } catch {
                    plan.abandon()
                    throw error
                }
                removed(location, plan)
            }
            return 0
        case "rename", "renameat", "renameat2":
            if name == "renameat2" && args[4] != 0 { throw ServiceError(errno: EINVAL) }
            // The server gets the program's spellings (its rights may differ by
            // spelling); what is open here is known by the spelling it was opened with.
            let spelledTarget = try sameServer(location, list)
            let target = spelledAsOpen(spelledTarget, service: service)
            let location = spelledAsOpen(location, service: service)
            // A rename onto the file's own name (or another of its links) changes nothing.
            let plan = location == target ? nil : beforeRemoving(target, service: service, renamingFrom: location)
            do throws(ServiceError) { try renameReplacingEmptied(path, to: spelledTarget.path, on: service) } catch {
                plan?.abandon()
                throw error
            }
            if let plan, !plan.changesNothing { renamed(location, to: target, plan) }
            return 0
        case "link", "linkat":
            let target = try sameServer(location, list)
            do throws(ServiceError) { try service.link(path, to: target.path) } catch where error.errno == EACCES {
                // Chirp has no EPERM: a directory cannot be linked, whatever the rights.
                if (try? service.lstat(path))?.isDirectory == true { throw ServiceError(errno: EPERM) }
                throw error
            }
            return 0
        case "symlink", "symlinkat":
            let target = try memory(stop) { try stop.memory.readCString(args[0]) }
            try service.symlink(target: String(decoding: target, as: UTF8.self), at: path)
            return 0
        case "chmod", "fchmodat", "fchmodat2":
            // The protocol's chmod, chown and utime follow symlinks; a link's own
            // attributes cannot be set, and its target must not be changed instead.
            if !first.followed, try service.lstat(path).isSymbolicLink { throw ServiceError(errno: EOPNOTSUPP) }
            try service.chmod(path, mode: UInt32(truncatingIfNeeded: args[name == "chmod" ? 1 : 2]) & 0o7777)
            return 0
        case "chown", "lchown", "fchownat":
            if !first.followed, try service.lstat(path).isSymbolicLink { return 0 }  // owners are the server's anyway
            let (uid, gid) = name == "fchownat" ? (args[2], args[3]) : (args[1], args[2])
            try service.chown(path, uid: UInt32(truncatingIfNeeded: uid), gid: UInt32(truncatingIfNeeded: gid))
            return 0
        case "utime", "utimes", "futimesat", "utimensat":
            // A symlink's own times stay as they are (see chmod).
            if !first.followed, try service.lstat(path).isSymbolicLink { return 0 }
            let (access, modification) = try requestedTimes(name, stop, service: service, path: path)
            try service.utimes(path, access: access, modification: modification)
            return 0
        case "statfs":
            let status = try service.statfs(path)
            try memory(stop) { try stop.memory.write(KernelStructs.statfs(status), to: args[1]) }
            return 0
        case "mknod", "mknodat":
            // Only a regular file can be made remotely (mknod with S_IFREG is creat).
            let mode = UInt32(truncatingIfNeeded: args[name == "mknod" ? 1 : 2])
            let type = mode & UInt32(S_IFMT)
            guard type == UInt32(S_IFREG) || type == 0 else {
                // In the kernel's order: the type (a directory is mkdir's, others
                // are no file's), then the name (taken, or no directory to make
                // it in), then the right, which a server never gives.
                if type == UInt32(S_IFDIR) { throw ServiceError(errno: EPERM) }
                let special = [S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].map { UInt32($0) }
                guard special.contains(type) else { throw ServiceError(errno: EINVAL) }
                if (try? service.lstat(path)) != nil { throw ServiceError(errno: EEXIST) }
                if !(try service.stat(AttributeCache.parent(of: path)).isDirectory) {
                    throw ServiceError(errno: ENOTDIR)
                }
                throw ServiceError(errno: EPERM)
            }
            let handle = try service.open(path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode & 0o7777 & ~umask(of: stop.tid))
            try? service.close(handle)
            return 0
        case "chdir":
            return try changeDirectory(task, to: location, service: service)
        case let xattr where xattr.contains("xattr"):
            // The driver offers no extended attributes: as a filesystem without them.
            throw ServiceError(errno: EOPNOTSUPP)
        case "chroot", "mount", "umount2", "pivot_root", "swapon", "swapoff", "acct", "quotactl":
            throw ServiceError(errno: EPERM)
        case "execve", "execveat":
            throw ServiceError(errno: EACCES, message: "running a remote program needs the whole-file cache")
        default:
            // inotify, fanotify, file handles, mount API, uselib: nothing a service offers.
            throw ServiceError(errno: EOPNOTSUPP)
        }
    }

    /// cctools' server refuses a directory renamed onto one that holds
    /// nothing but its ACL file (ENOTEMPTY): a directory that lists empty is
    /// removed first, as the kernel replaces an empty directory.
    private func renameReplacingEmptied(_ path: String, to target: String, on service: FileService) throws(ServiceError) {
        do throws(ServiceError) { try service.rename(path, to: target) } catch where error.errno == ENOTEMPTY {
            guard (try? service.lstat(path))?.isDirectory == true,
                  let entries = try? service.readdir(target), entries.allSatisfy({ $0.name == "." || $0.name == ".." })
            else { throw error }
            try service.rmdir(target)
            try service.rename(path, to: target)
        }
    }

    /// The second path of rename or link, on the same server as the first.
    private func sameServer(_ location: RemoteLocation, _ list: [ResolvedArgument]) throws(ServiceError) -> RemoteLocation {
        guard list.count == 2, let other = list[1].resolution.remote,
              other.service == location.service, other.authority == location.authority else {
            throw ServiceError(errno: EXDEV)
        }
        return other
    }

    /// Opens a remote file or directory as a new open file description.
    func openRemote(_ location: RemoteLocation, service: FileService, flags: Int32, mode: UInt32) throws(ServiceError) -> OpenFile {
        let pathOnly: Int32 = 0o10000000
        let wantsDirectory = flags & O_DIRECTORY != 0
        if flags & pathOnly != 0 || wantsDirectory || location.isServiceRoot {
            let status = try flags & O_NOFOLLOW != 0 ? service.lstat(location.path) : service.stat(location.path)
            if wantsDirectory && !status.isDirectory { throw ServiceError(errno: ENOTDIR) }
            if status.isDirectory && flags & 3 != O_RDONLY { throw ServiceError(errno: EISDIR) }
            if status.isDirectory && flags & O_CREAT != 0 { throw ServiceError(errno: EISDIR) }
            return OpenFile(service: service, location: location, handle: nil, isDirectory: status.isDirectory, flags: flags)
        }
        let serviceFlags = flags & ~(O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_LARGEFILE_FLAG)
        let (handle, status) = try service.openWithStatus(location.path, flags: serviceFlags, mode: mode)
        if flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0 {
            // Written through this name: copies cached under the file's others are stale.
            copied?.changed(status, on: service)
        }
        if status?.isDirectory == true {
            // A directory opened for reading lists by path.
            try? service.close(handle)
            return OpenFile(service: service, location: location, handle: nil, isDirectory: true, flags: flags)
        }
        let file = OpenFile(service: service, location: location, handle: handle, isDirectory: false, flags: flags)
        file.identity = status.flatMap(FileIdentity.init)
        return file
    }

    /// Closes the service's side of a description nobody refers to any more,
    /// where the program cannot be told of a failure (exec, exit, dup2 over
    /// it): the person running it is, as for a failed write-back.
    func closeRemote(_ file: OpenFile) {
        do throws(ServiceError) { try closeRemoteReporting(file) } catch {
            if file.flags & O_ACCMODE != O_RDONLY {
                log.write("cannot finish writing \(file.location) (\(error))")
            } else if log.enabled(.namespace) {
                log.write("close \(file.location): \(error)")
            }
        }
    }

    /// The same for close(): a server that refuses the data only at the end
    /// of a streamed store (a full disk) fails the close, as a local
    /// filesystem's failed flush does.
    func closeRemoteReporting(_ file: OpenFile) throws(ServiceError) {
        shadowLocks?.descriptionClosed(file)  // its flock and OFD locks
        guard let handle = file.handle else { return }
        gathered?.flush(file)
        let lost = gathered?.takeFailure(file)
        if lost != nil { streamedCopies?.drop(file) }
        guard let streamed = streamedCopies, streamed.isKeeping(file) else {
            try file.service.close(handle)
            if let lost { throw lost }
            copiesChanged(by: file, nil)
            return
        }
        do throws(ServiceError) { try file.service.close(handle) } catch {
            streamed.drop(file)
            throw error
        }
        let status = try? file.service.stat(file.location.path)
        // Other names' copies go first: a shared copy (hard links) is valid again after.
        copiesChanged(by: file, status)
        streamed.finish(file, status: status, link: status.flatMap { Self.linkKey(file.location, $0) })
    }

    /// A file written through `file`: copies cached since its open under the
    /// file's other names (a hard link read meanwhile) are stale now.
    private func copiesChanged(by file: OpenFile, _ known: FileStatus?) {
        guard file.hasWritten, let copied else { return }
        copied.changed(known ?? (try? file.service.stat(file.location.path)), on: file.service,
                       except: Self.cacheKey(file.location))
    }

    /// The status a stat call names: glibc's fstat is newfstatat(fd, "",
    /// AT_EMPTY_PATH), which asks about the open file, not its name. While
    /// the name is the file's, a kept answer for the name does (no request);
    /// once it went (removed, or given to another file), only the server's
    /// descriptor can.
    private func remoteStatus(_ argument: ResolvedArgument, _ service: FileService,
                              _ location: RemoteLocation) throws(ServiceError) -> FileStatus {
        if let file = argument.descriptor, file.isDetached { return try status(of: file) }
        return try remoteStatus(service, location, follow: argument.followed)
    }

    /// stat of a remote path with this agent's block size.
    func remoteStatus(_ service: FileService, _ location: RemoteLocation, follow: Bool) throws(ServiceError) -> FileStatus {
        let status = try follow ? service.stat(location.path) : service.lstat(location.path)
        cutLooseIfReplaced(location, status, on: service)
        return withCacheIdentity(adjusted(status), location)
    }

    func adjusted(_ status: FileStatus) -> FileStatus {
        var status = status
        status.blksize = options.blockSize
        return status
    }

    /// A remote regular file's stat, with the identity its cached copy has
    /// (descriptors opened through the cache are that copy).
    func withCacheIdentity(_ status: FileStatus, _ location: RemoteLocation) -> FileStatus {
        guard status.isRegularFile, let cache = options.cache else { return status }
        let identity: (dev: UInt64, ino: UInt64)?
        // (A held copy's file may be down to its one other name: nlink 1.)
        if writeBack?.isEmpty == false, let service = try? services.driver(for: location),
           let written = writtenUnderAnotherName(status, on: service) {
            // Opens of this name open that copy while it is written (CachedOpen).
            var copy = stat()
            identity = lstat(written.dataPath, &copy) == 0 ? (UInt64(copy.st_dev), UInt64(copy.st_ino)) : nil
        } else {
            identity = cache.identity(key: Self.cacheKey(location), link: Self.linkKey(location, status), status: status)
        }
        guard let identity else { return status }
        var status = status
        status.dev = identity.dev
        status.ino = identity.ino
        return status
    }

    func changeDirectory(_ task: TaskState, to location: RemoteLocation, service: FileService) throws(ServiceError) -> Int64 {
        enterRemoteDirectory(task, try physicalDirectory(location, under: task.fs.remoteCwd, service: service))
        return 0
    }

    func enterRemoteDirectory(_ task: TaskState, _ location: RemoteLocation) {
        task.fs.cwd = location.virtualPath
        task.fs.remoteCwd = location
        remoteCwdInUse = true
    }

    /// The times utime/utimes/futimesat/utimensat ask for (NULL: now;
    /// UTIME_OMIT keeps what the file has).
    func requestedTimes(_ name: String, _ stop: SyscallStop, service: FileService,
                                path: String) throws(ServiceError) -> (Timestamp, Timestamp) {
        let pointer = stop.args[name == "utime" || name == "utimes" ? 1 : 2]
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let current = Timestamp(now)
        guard pointer != 0 else { return (current, current) }
        let bytes = try memory(stop) { try stop.memory.read(pointer, count: name == "utime" ? 16 : 32) }
        switch name {
        case "utime":
            return (Timestamp(seconds: bytes.load(Int64.self, at: 0)), Timestamp(seconds: bytes.load(Int64.self, at: 8)))
        case "utimes", "futimesat":
            return (Timestamp(seconds: bytes.load(Int64.self, at: 0), nanoseconds: bytes.load(Int64.self, at: 8) * 1000),
                    Timestamp(seconds: bytes.load(Int64.self, at: 16), nanoseconds: bytes.load(Int64.self, at: 24) * 1000))
        default:
            let utimeNow = Int64((1 << 30) - 1), utimeOmit = Int64((1 << 30) - 2)
            var times: [Timestamp] = []
            var existing: FileStatus?
            for index in 0..<2 {
                let seconds = bytes.load(Int64.self, at: index * 16), nanos = bytes.load(Int64.self, at: index * 16 + 8)
                switch nanos {
                case utimeNow: times.append(current)
                case utimeOmit:
                    if existing == nil { existing = try service.stat(path) }
                    times.append(index == 0 ? existing!.atime : existing!.mtime)
                default:
                    guard (0..<1_000_000_000).contains(nanos) else { throw ServiceError(errno: EINVAL) }
                    times.append(Timestamp(seconds: seconds, nanoseconds: nanos))
                }
            }
            return (times[0], times[1])
        }
    }

    /// The program's umask, which the kernel would apply to what it creates
    /// (from /proc: umask(2) is not trapped); 022 if it cannot be read.
    func umask(of tid: pid_t) -> UInt32 {
        ProcStatus(tid: tid)?["Umask"].flatMap { UInt32($0, radix: 8) } ?? 0o022
    }

    /// Writes a `struct stat` into the program, built on the stack.
    func writeStat(_ status: FileStatus, to address: UInt64, _ stop: SyscallStop) throws(ServiceError) {
        try withUnsafeTemporaryAllocation(byteCount: KernelStructs.statSize, alignment: 8) { (bytes) throws(ServiceError) in
            KernelStructs.stat(status, into: bytes)
            try memory(stop) { try stop.memory.write(UnsafeRawBufferPointer(bytes), to: address) }
        }
    }

    /// Runs a tracee memory access; a bad pointer is the program's EFAULT.
    func memory<T>(_ stop: SyscallStop, _ body: () throws -> T) throws(ServiceError) -> T {
        do { return try body() } catch { throw ServiceError(errno: EFAULT, message: "bad address") }
    }
}

/// O_LARGEFILE as the x86_64 kernel sees it (glibc's header says 0).
let O_LARGEFILE_FLAG: Int32 = 0o100000
/// O_TMPFILE (with its O_DIRECTORY), which Swift's Glibc module does not import.
let O_TMPFILE_FLAG: Int32 = 0o20200000

extension Array where Element == UInt8 {
    func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
