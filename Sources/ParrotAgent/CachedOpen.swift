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
    static let openCalls: Set<String> = ["open", "openat", "openat2"]

    /// The cache's name for a remote file.
    static func cacheKey(_ location: RemoteLocation) -> String {
        location.service + "/" + location.authority + location.path
    }

    /// Rewrites the open to the cached copy; nil when the open is not one the
    /// cache serves (writes, directories, special files: virtual descriptors).
    func openThroughCache(_ name: String, _ stop: SyscallStop, tracee: Tracee,
                          _ list: [ResolvedArgument]) throws -> Resume? {
        guard let cache = options.cache, Self.openCalls.contains(name), list.count == 1, let argument = list.first,
              argument.descriptor == nil, let location = argument.resolution.remote, !location.isServiceRoot else { return nil }
        let flags = Int32(truncatingIfNeeded: name == "openat2" ? try openHowFlags(stop, 2)
                                                                   : stop.args[name == "open" ? 1 : 2])
        let pathOnly: Int32 = 0o10000000
        guard flags & 3 == O_RDONLY, flags & (O_TRUNC | O_DIRECTORY | pathOnly) == 0,
              flags & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL else { return nil }
        let entry: WholeFileCache.Entry
        do throws(ServiceError) {
            let service = try services.driver(for: location)
            let key = Self.cacheKey(location)
            if cache.isTrusted(key) {
                entry = try cache.entry(key: key, service: service, path: location.path, status: nil)
            } else {
                let status = try argument.followed ? service.stat(location.path) : service.lstat(location.path)
                guard status.isRegularFile else { return nil }
                entry = try cache.entry(key: key, service: service, path: location.path, status: status)
            }
        } catch {
            if log.enabled(.namespace) { log.write("[\(stop.tid)] \(name) \(location): \(error)") }
            try stop.fail(error.errno)
            return .proceed
        }
        cachedNames[entry.dataPath] = location.virtualPath
        if log.enabled(.namespace) { log.write("[\(stop.tid)] \(location) opened from the cache (\(entry.dataPath))") }
        let copy = ResolvedArgument(spec: argument.spec, original: argument.original, originalDirfd: argument.originalDirfd,
                                    followed: argument.followed,
                                    resolution: Resolution(hostPath: entry.dataPath, virtualPath: location.virtualPath,
                                                           entry: nil, translated: true))
        try rewrite(stop, tracee: tracee, [copy])
        return .proceed
    }

    /// Calls after which a cached copy may no longer be the remote file.
    static let remoteChanging: Set<String> = [
        "open", "openat", "openat2", "creat", "truncate", "rename", "renameat", "renameat2", "unlink", "unlinkat",
        "link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "fchmodat2", "utime", "utimes", "futimesat",
        "utimensat", "mknod", "mknodat",
    ]

    /// The program changes a remote file through the agent: its cached copy
    /// is dropped (the protocol's whole-second times could hide the change).
    func invalidateCached(_ name: String, _ list: [ResolvedArgument], _ stop: SyscallStop) {
        guard let cache = options.cache, Self.remoteChanging.contains(name) else { return }
        if Self.openCalls.contains(name) {
            let flags = Int32(truncatingIfNeeded: name == "openat2" ? ((try? openHowFlags(stop, 2)) ?? 0)
                                                                     : stop.args[name == "open" ? 1 : 2])
            if flags & 3 == O_RDONLY && flags & O_TRUNC == 0 { return }
        }
        for argument in list {
            if let location = argument.resolution.remote { cache.invalidate(key: Self.cacheKey(location)) }
        }
    }
}
