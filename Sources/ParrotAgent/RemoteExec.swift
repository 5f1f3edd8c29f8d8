import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// execve of a remote program: the kernel needs a local file to map, so the
/// program is fetched whole into the temporary directory (the whole-file
/// cache will keep it between runs; for now each exec fetches it). The copies
/// go when the agent ends: a running program or a script's interpreter may
/// still need them.
extension Agent {
    func executableCopy(of location: RemoteLocation) throws(ServiceError) -> String {
        let service = try services.driver(for: location)
        let status = try service.stat(location.path)
        if status.isDirectory { throw ServiceError(errno: EACCES, message: "a directory") }
        // Whoever may run it: the kernel checks our copy, so check the original.
        guard status.mode & 0o111 != 0 else { throw ServiceError(errno: EACCES, message: "not executable") }
        if let cache = options.cache {
            // Written here under another name: that copy is the file (the kernel says ETXTBSY).
            if let written = writtenUnderAnotherName(status, on: service) { return written.dataPath }
            // The cached copy keeps the remote's mode: the kernel can run it.
            return try cache.entry(key: Self.cacheKey(location), service: service, path: location.path, status: status,
                                   link: Self.linkKey(location, status)).dataPath
        }
        let directory = options.temporaryDirectory
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw ServiceError.posix("mkdir", directory) }
        let path = try LocalDescriptor.makeTemporary(in: directory, prefix: "exec")
        executableCopies.append(path)
        _ = try service.getFile(location.path, to: path)
        chmod(path, 0o700)
        return path
    }

    func removeExecutableCopies() {
        for path in executableCopies { unlink(path) }
        executableCopies.removeAll()
    }
}
