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
        let movedKeys = options.cache.map { moveCachedCopies($0, from: from, to: to) } ?? []
        forEachOpenFile { file in
            guard let now = file.location.moved(from: from, to: to) else { return }
            // Its streamed cache entry would be committed under the old name's key.
            streamedCopies?.drop(file)
            file.location = now
        }
        writeBack?.moved(from: from, to: to, copiesMoved: movedKeys)
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

    /// Before `location` is removed, or replaced by a rename of `from`, when
    /// something is open there: says whether `from` is another file (false:
    /// the rename changes nothing), and when the file may outlive the name
    /// (a symbolic link, one of several hard links), sends back what the
    /// program wrote into copies of it so far: its writes after the name
    /// is gone are lost (see README), not its writes before.
    func beforeRemoving(_ location: RemoteLocation, service: FileService, renamingFrom from: RemoteLocation? = nil) -> Bool {
        var isOpen = writeBack?.locations.contains(location) ?? false
        if !isOpen { forEachOpenFile { file in isOpen = isOpen || file.location == location } }
        guard isOpen, let status = try? service.lstat(location.path) else { return true }
        if let from, let other = try? service.lstat(from.path), other.ino != 0,
           (other.dev, other.ino) == (status.dev, status.ino) {
            return false
        }
        if status.isSymbolicLink || status.nlink > 1 {
            writeBack?.giveBackNow(at: location)
            copies?.giveBackNow(at: location)
        }
        return true
    }

    /// The server says `location` names another file than the one this agent
    /// copied under it (replaced by someone else): the copy is cut loose
    /// before the new file is fetched, so that programs still reading the old
    /// one keep it, and the name's identity changes with its file.
    func cutLooseIfReplaced(_ location: RemoteLocation, _ status: FileStatus, on service: FileService) {
        let key = Self.cacheKey(location)
        // Only a regular file's status says which file the copy is (a link's lstat is the link's).
        guard status.isRegularFile, let cache = options.cache, let copied, copied.isAnotherFile(key, status, on: service),
              !(writeBack?.isTracked(key) ?? false), !(streamedCopies?.isKeeping(key: key) ?? false) else { return }
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
    /// it that this agent copied) become the new names' entries; returns the
    /// old keys whose copies moved.
    private func moveCachedCopies(_ cache: WholeFileCache, from: RemoteLocation, to: RemoteLocation) -> Set<String> {
        var moving: Set<RemoteLocation> = [from]
        let written = Set(writeBack?.locations ?? [])
        for location in written where location.moved(from: from, to: to) != nil {
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
        var movedKeys: Set<String> = []
        for old in moving {
            guard let new = old.moved(from: from, to: to) else { continue }
            let (oldKey, newKey) = (Self.cacheKey(old), Self.cacheKey(new))
            if cache.move(key: oldKey, to: newKey, written: written.contains(old)) {
                movedKeys.insert(oldKey)
                copied?.moved(oldKey, to: newKey)
            } else {
                copied?.forget(oldKey)
                copied?.forget(newKey)
            }
            cachedNames.removeValue(forKey: cache.dataPath(for: oldKey))
            cachedNames[cache.dataPath(for: newKey)] = new.virtualPath
        }
        return movedKeys
    }
}
