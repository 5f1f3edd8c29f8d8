import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// A rename or unlink made through the agent reaches what is open under the
/// names it changes, as on a local filesystem: descriptors follow a renamed
/// file (later writes, write-backs and cached copies go with it, never to a
/// file made under the old name meanwhile), and a file whose name is removed
/// or given to another file is cut loose from that name (never written back
/// to it, its cached copy no longer the name's).
extension Agent {
    /// `from` was renamed to `to` on the server.
    func renamed(_ from: RemoteLocation, to: RemoteLocation) {
        detachOpenFiles(at: to)
        if let cache = options.cache { moveCachedCopies(cache, from: from, to: to) }
        forEachOpenFile { file in
            guard let now = file.location.moved(from: from, to: to) else { return }
            // Its streamed cache entry would be committed under the old name's key.
            streamedCopies?.drop(file)
            file.location = now
        }
        writeBack?.moved(from: from, to: to)
    }

    /// The file `location` named was removed on the server.
    func removed(_ location: RemoteLocation) {
        detachOpenFiles(at: location)
        guard let cache = options.cache else { return }
        writeBack?.removed(location)
        let key = Self.cacheKey(location)
        cache.detach(key: key)
        copied?.forget(key)
    }

    /// The server says `location` names another file than the one this agent
    /// copied under it (replaced by someone else): the copy is cut loose
    /// before the new file is fetched, so that programs still reading the old
    /// one keep it, and the name's identity changes with its file.
    func cutLooseIfReplaced(_ location: RemoteLocation, _ status: FileStatus, on service: FileService) {
        let key = Self.cacheKey(location)
        guard let cache = options.cache, let copied, copied.isAnotherFile(key, status, on: service),
              !(writeBack?.isTracked(key) ?? false) else { return }
        cache.detach(key: key)
        copied.forget(key)
    }

    private func detachOpenFiles(at location: RemoteLocation) {
        forEachOpenFile { file in
            guard file.location == location, !file.isDetached else { return }
            streamedCopies?.drop(file)
            file.isDetached = true
        }
    }

    /// Every open remote file: the programs' descriptors and local copies.
    private func forEachOpenFile(_ body: (OpenFile) -> Void) {
        var seen = Set<ObjectIdentifier>()
        for task in tasks.values where seen.insert(ObjectIdentifier(task.process)).inserted {
            let table = task.process.descriptors
            for fd in table.descriptors {
                if let file = table[fd]?.file { body(file) }
            }
        }
        copies?.openFiles.forEach(body)
    }

    /// The cache entries of `from` (and, for a directory, of the files under
    /// it that this agent copied) become the new names' entries.
    private func moveCachedCopies(_ cache: WholeFileCache, from: RemoteLocation, to: RemoteLocation) {
        var moving: Set<RemoteLocation> = [from]
        for location in writeBack?.locations ?? [] where location.moved(from: from, to: to) != nil {
            moving.insert(location)
        }
        // A file copied or looked at here has an entry: no directory to search.
        if access(cache.dataPath(for: Self.cacheKey(from)), F_OK) != 0 {
            let names = services.names
            for virtualPath in cachedNames.values {
                guard let location = RemoteLocation(normalized: virtualPath, services: names),
                      location.moved(from: from, to: to) != nil else { continue }
                moving.insert(location)
            }
        }
        for old in moving {
            guard let new = old.moved(from: from, to: to) else { continue }
            let (oldKey, newKey) = (Self.cacheKey(old), Self.cacheKey(new))
            cache.move(key: oldKey, to: newKey)
            copied?.moved(oldKey, to: newKey)
            cachedNames.removeValue(forKey: cache.dataPath(for: oldKey))
            cachedNames[cache.dataPath(for: newKey)] = new.virtualPath
        }
    }
}
