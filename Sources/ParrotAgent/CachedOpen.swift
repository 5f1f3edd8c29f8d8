import ParrotCache
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// A read-only open of a remote regular file opens its local copy in the
/// whole-file cache instead: the program gets a real descriptor, and its
/// reads, mmaps and execs never stop again. One stat checks the copy; a
/// stale or missing one is fetched whole first.
extension Agent {
    static let openCalls: Set<String> = ["open", "openat", "openat2", "creat"]

    /// The open(2) flags of an open call (creat's are implied).
    func openFlags(_ name: String, _ stop: SyscallStop) throws -> Int32 {
        switch name {
        case "creat": return O_WRONLY | O_CREAT | O_TRUNC
        case "openat2": return Int32(truncatingIfNeeded: try openHowFlags(stop, 2))
        default: return Int32(truncatingIfNeeded: stop.args[name == "open" ? 1 : 2])
        }
    }

    /// The mode argument of an open call that creates.
    func openMode(_ name: String, _ stop: SyscallStop) -> UInt32 {
        UInt32(truncatingIfNeeded: stop.args[name == "openat" ? 3 : name == "creat" ? 1 : 2]) & 0o7777
    }

    /// The cache's name for a remote file.
    static func cacheKey(_ location: RemoteLocation) -> String {
        location.service + "/" + location.authority + location.path
    }

    /// The cache's name for the remote file itself when it has several names
    /// (hard links): their copies are one local file (see SharedCopies).
    static func linkKey(_ location: RemoteLocation, _ status: FileStatus) -> String? {
        guard status.nlink > 1 else { return nil }
        return anyLinkKey(location, status)
    }

    /// The same whatever the link count: the key a shared copy of the file
    /// had when it had more names.
    static func anyLinkKey(_ location: RemoteLocation, _ status: FileStatus) -> String? {
        guard status.isRegularFile, status.ino != 0 else { return nil }
        return location.service + "/" + location.authority + "#\(status.dev):\(status.ino)"
    }

    /// Rewrites the open to the cached copy; nil when the open is not one the
    /// cache serves (writes, directories, special files: virtual descriptors).
    func openThroughCache(_ name: String, _ stop: SyscallStop, tracee: Tracee,
                          _ list: [ResolvedArgument]) throws -> Resume? {
        guard let cache = options.cache, Self.openCalls.contains(name), list.count == 1, let argument = list.first,
              argument.descriptor == nil, let location = argument.resolution.remote, !location.isServiceRoot else { return nil }
        let flags = try openFlags(name, stop)
        let pathOnly: Int32 = 0o10000000
        guard flags & (O_DIRECTORY | pathOnly) == 0 else { return nil }
        if flags & 3 != O_RDONLY || flags & (O_TRUNC | O_CREAT) != 0 {
            // openat2's flags live in the program's memory: not rewritten, streamed.
            guard name != "openat2", !streamsWrites(flags, location) else { return nil }
            return try openForWritingThroughCache(name, flags: flags, stop, tracee: tracee, argument, location)
        }
        let entry: WholeFileCache.Entry
        do throws(ServiceError) {
            let service = try services.driver(for: location)
            let key = Self.cacheKey(location)
            if let writeBack, writeBack.isTracked(key) {
                // Being written here: the copy is newer than the server's file.
                entry = WholeFileCache.Entry(key: key, dataPath: writeBack.dataPath(ofTracked: key) ?? cache.dataPath(for: key),
                                             size: 0)
            } else if cache.isTrusted(key) {
                entry = try cache.entry(key: key, service: service, path: location.path, status: nil)
            } else {
                let status = try argument.followed ? service.stat(location.path) : service.lstat(location.path)
                guard status.isRegularFile else { return nil }
                cutLooseIfReplaced(location, status, on: service)
                if let written = writtenUnderAnotherName(status, on: service) {
                    // Another name of the file is being written here: its copy is the file.
                    entry = WholeFileCache.Entry(key: written.key, dataPath: written.dataPath, size: 0)
                } else {
                    entry = try cache.entry(key: key, service: service, path: location.path, status: status,
                                            link: Self.linkKey(location, status))
                    copiedFiles(cache).copied(key, of: status, on: service)
                }
            }
        } catch {
            return try refuseOpen(name, location, error, stop)
        }
        return try openCopy(entry, of: location, argument, stop, tracee: tracee, what: "opened from the cache")
    }

    private func refuseOpen(_ name: String, _ location: RemoteLocation, _ error: ServiceError, _ stop: SyscallStop) throws -> Resume {
        if log.enabled(.namespace) { log.write("[\(stop.tid)] \(name) \(location): \(error)") }
        try stop.fail(error.errno)
        return .proceed
    }

    /// Points the open's path at the cached copy (remembered for /proc/self/fd).
    private func openCopy(_ entry: WholeFileCache.Entry, of location: RemoteLocation, _ argument: ResolvedArgument,
                          _ stop: SyscallStop, tracee: Tracee, what: String) throws -> Resume {
        // (Another name's copy keeps its name in /proc/self/fd.)
        if entry.key == Self.cacheKey(location) || cachedNames[entry.dataPath] == nil {
            cachedNames[entry.dataPath] = location.virtualPath
        }
        if log.enabled(.namespace) { log.write("[\(stop.tid)] \(location) \(what) (\(entry.dataPath))") }
        let copy = ResolvedArgument(spec: argument.spec, original: argument.original, originalDirfd: argument.originalDirfd,
                                    followed: argument.followed,
                                    resolution: Resolution(hostPath: entry.dataPath, virtualPath: location.virtualPath,
                                                           entry: nil, translated: true))
        try rewrite(stop, tracee: tracee, [copy])
        return .proceed
    }

    /// A file opened only to be written, on a service that writes at any
    /// offset, is streamed (a virtual descriptor, writes sent ahead of their
    /// replies) instead of copied: a copy would be written to the local disk
    /// first and sent only at the close, one after the other, at about half
    /// the speed for a large file. Appends too: the server's file is opened
    /// to append, so they land after whatever other clients (other agents:
    /// other jobs) appended meanwhile, where a copy would go back whole over
    /// their lines. Files this program is writing through the cache keep the copy.
    func streamsWrites(_ flags: Int32, _ location: RemoteLocation) -> Bool {
        guard flags & 3 == O_WRONLY,
              let service = try? services.driver(for: location), service.writesAtAnyOffset else { return false }
        guard let writeBack, !writeBack.isEmpty else { return true }
        if writeBack.isTracked(Self.cacheKey(location)) { return false }
        // Another name of the file (a hard link) written here: into that copy too.
        guard writeBack.knowsFiles, let status = try? service.stat(location.path) else { return true }
        return writtenUnderAnotherName(status, on: service) == nil
    }

    /// An open that writes (or creates, or truncates) a remote regular file
    /// opens its cached copy; the copy goes back when its last descriptor is
    /// closed (CacheWriteBack). The file is created at the server first, and
    /// the server is asked whether it may be written, so that the open fails
    /// as it would on the server (EEXIST, EACCES, ENOENT).
    func openForWritingThroughCache(_ name: String, flags: Int32, _ stop: SyscallStop, tracee: Tracee,
                                    _ argument: ResolvedArgument, _ location: RemoteLocation) throws -> Resume? {
        guard let cache = options.cache else { return nil }
        let writeBack = cacheWriteBack(cache)
        let key = Self.cacheKey(location)
        let entry: WholeFileCache.Entry
        var remoteMode: UInt32 = 0o644
        do throws(ServiceError) {
            let service = try services.driver(for: location)
            var status: FileStatus
            do throws(ServiceError) {
                if let kept = service as? AttributeCache {
                    status = try kept.asked(location.path, follow: argument.followed)
                } else {
                    status = try argument.followed ? service.stat(location.path) : service.lstat(location.path)
                }
                if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL { throw ServiceError(errno: EEXIST) }
                guard status.isRegularFile else { return nil }  // directories, links: as the server says
                if flags & 3 != O_RDONLY || flags & O_TRUNC != 0 {
                    try service.access(location.path, mode: flags & 3 == O_RDWR ? R_OK | W_OK : W_OK)
                }
            } catch where error.errno == ENOENT && flags & O_CREAT != 0 {
                let mode = openMode(name, stop) & ~umask(of: stop.tid)
                // Chirp's open answers with the new file's status: no stat after.
                let (handle, created) = try service.openWithStatus(location.path, flags: O_WRONLY | O_CREAT | (flags & O_EXCL),
                                                                   mode: mode)
                try? service.close(handle)
                if let created { status = created } else { status = try service.stat(location.path) }
            }
            remoteMode = status.mode & 0o7777
            if !writeBack.isTracked(key), let written = writtenUnderAnotherName(status, on: service) {
                // Another name of the file is being written here: written with it, and back with it.
                entry = WholeFileCache.Entry(key: written.key, dataPath: written.dataPath, size: 0)
            } else {
                // Replaced by someone else: a reader of the old copy keeps it.
                if !writeBack.isTracked(key) { cutLooseIfReplaced(location, status, on: service) }
                copiedFiles(cache).changed(status, on: service, except: key)
                copiedFiles(cache).copied(key, of: status, on: service)
                let prepared = try cache.entryForWriting(key: key, service: service, path: location.path, status: status,
                                                         truncating: flags & O_TRUNC != 0 && flags & 3 != O_RDONLY,
                                                         keepCurrent: writeBack.isTracked(key),
                                                         link: Self.linkKey(location, status))
                // A copy being written and set aside is where the program's writes went.
                entry = WholeFileCache.Entry(key: key, dataPath: writeBack.dataPath(ofTracked: key) ?? prepared.dataPath,
                                             size: prepared.size)
            }
            try writeBack.expectOpen(of: entry, location: location, service: service, remoteMode: remoteMode,
                                     identity: FileIdentity(status))
        } catch {
            return try refuseOpen(name, location, error, stop)
        }
        // The copy exists: the kernel must neither create nor refuse it.
        if name != "creat" {  // creat never refuses an existing file
            try stop.setArgument(name == "open" ? 1 : 2, UInt64(UInt32(bitPattern: flags & ~(O_CREAT | O_EXCL))))
        }
        let resume = try openCopy(entry, of: location, argument, stop, tracee: tracee, what: "opened for writing in the cache")
        return watchingClose(stop, tracee: tracee) ?? resume
    }

    /// The copy being written here of the file `status` describes, under
    /// another of its names (hard links).
    func writtenUnderAnotherName(_ status: FileStatus, on service: FileService) -> (key: String, dataPath: String)? {
        guard let writeBack, status.nlink > 1 || writeBack.holdsFiles, let identity = FileIdentity(status) else { return nil }
        return writeBack.trackedCopy(of: identity, on: service)
    }

    /// Calls after which a cached copy may no longer be the remote file.
    static let remoteChanging: Set<String> = [
        "open", "openat", "openat2", "creat", "truncate", "link", "linkat", "symlink", "symlinkat", "chmod",
        "fchmodat", "fchmodat2", "utime", "utimes", "futimesat", "utimensat", "mknod", "mknodat",
    ]

    /// Calls that change names, whose entries move or go once they succeed
    /// (ChangedNames), and are dropped only when they fail.
    static let namesChanging: Set<String> = ["rename", "renameat", "renameat2", "unlink", "unlinkat"]

    /// The program changes a remote file through the agent: its cached copy
    /// is dropped (the protocol's whole-second times could hide the change).
    func invalidateCached(_ name: String, _ list: [ResolvedArgument], _ stop: SyscallStop, failed: Bool = false) {
        guard let cache = options.cache,
              Self.remoteChanging.contains(name) || failed && Self.namesChanging.contains(name) else { return }
        if Self.openCalls.contains(name) {
            let flags = (try? openFlags(name, stop)) ?? 0
            if flags & 3 == O_RDONLY && flags & O_TRUNC == 0 { return }
        }
        for argument in list {
            if let location = argument.resolution.remote { cache.invalidate(key: Self.cacheKey(location)) }
        }
    }
}
