import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// What a removal or a rename will do beyond its own names, found before it.
struct NameChangePlan {
    /// A rename onto another name of the same file: nothing changes.
    var changesNothing = false
    /// The file losing its last name, open here under other names (symbolic
    /// links to it): cut loose there too.
    var dying: (file: FileIdentity, aliases: [RemoteLocation])?
    /// The file renamed, open here under other names: they follow it.
    var moving: (file: FileIdentity, aliases: [RemoteLocation])?
    /// Copies written under the name, whose file outlives it: for each, the
    /// server's file, opened before the name goes, to go back through.
    var held: [(copy: HeldCopy, handle: ServiceHandle, service: FileService)] = []

    /// The change did not happen: nothing is held.
    func abandon() {
        for held in held { try? held.service.close(held.handle) }
    }
}

/// A local copy being written (cached, or made real) whose name goes while
/// its file keeps another (a hard link, or the file a removed symbolic link
/// led to). A local file's descriptors write on into the file, whatever
/// became of the name they were opened under; so does the copy, through a
/// server descriptor opened on the file before the name went.
enum HeldCopy {
    case cached(CacheWriteBack.Tracked)
    case madeReal(LocalCopies.Copy)
}

/// A rename or unlink made through the agent reaches what is open under the
/// names it changes, as on a local filesystem: descriptors follow a renamed
/// file (later writes, write-backs and cached copies go with it, never to a
/// file made under the old name meanwhile), and a file whose name is removed
/// or given to another file is cut loose from that name (never written back
/// to it, its cached copy no longer the name's).
extension Agent {
    /// `from` was renamed to `to` on the server.
    func renamed(_ from: RemoteLocation, to: RemoteLocation, _ plan: NameChangePlan = NameChangePlan()) {
        hold(plan)
        if let dying = plan.dying { for alias in dying.aliases { cutLoose(alias, dying.file) } }
        detachOpenFiles(at: to)
        let movedKeys = options.cache.map { moveCachedCopies($0, from: from, to: to) } ?? []
        forEachOpenFile { file in
            guard let now = file.location.moved(from: from, to: to) else { return }
            // Its streamed cache entry would be committed under the old name's key.
            streamedCopies?.drop(file)
            file.location = now
        }
        writeBack?.moved(from: from, to: to, copiesMoved: movedKeys)
        guard let moving = plan.moving else { return }
        for alias in moving.aliases {
            forEachOpenFile { file in
                guard file.location == alias, file.identity == moving.file, !file.isDetached else { return }
                streamedCopies?.drop(file)
                file.location = to
            }
            writeBack?.follow(alias, of: moving.file, to: to)
            // The link now leads nowhere: what was cached under its name goes.
            options.cache?.detach(key: Self.cacheKey(alias))
        }
    }

    /// The file `location` named was removed on the server.
    func removed(_ location: RemoteLocation, _ plan: NameChangePlan = NameChangePlan()) {
        hold(plan)
        if let dying = plan.dying { for alias in dying.aliases { cutLoose(alias, dying.file) } }
        cutLoose(location, nil)
    }

    private func hold(_ plan: NameChangePlan) {
        for held in plan.held {
            switch held.copy {
            case .cached(let tracked): writeBack?.hold(tracked, through: held.handle)
            case .madeReal(let copy): copies?.hold(copy, through: held.handle)
            }
        }
        if !plan.held.isEmpty { keepAliveFromNow() }
    }

    /// Something now reaches its file through a descriptor only: the
    /// keep-alive runs (see keepAliveInterval) unless it does already.
    func keepAliveFromNow() {
        if heldKeepAlive == nil { heldKeepAlive = Self.nextKeepAlive }
    }

    /// A held descriptor dies with its connection, which a server closes
    /// when it is idle (after 60 s, both cctools' and the bundled one), and
    /// a file with no name cannot be opened again: while something is held
    /// (or a streamed descriptor's name went), each is asked about (fstat)
    /// this often, which keeps the connection busy.
    static let keepAliveInterval = 10.0

    static var nextKeepAlive: UInt64 { Deadline.after(seconds: keepAliveInterval).nanoseconds }

    /// At the keep-alive deadline (see keepAliveInterval).
    func keepHeldFilesAlive() {
        guard let due = heldKeepAlive, Deadline.now.nanoseconds >= due else { return }
        let held = (writeBack?.heldHandles ?? []) + (copies?.heldHandles ?? []) + detachedHandles()
        for (handle, service) in held { _ = try? service.fstat(handle) }
        heldKeepAlive = held.isEmpty ? nil : Self.nextKeepAlive
    }

    /// The handles of files open here whose name went (streamed descriptors):
    /// they too reach the file only as long as their connection lives.
    private func detachedHandles() -> [(handle: ServiceHandle, service: FileService)] {
        var seen = Set<ObjectIdentifier>(), found: [(handle: ServiceHandle, service: FileService)] = []
        for task in tasks.values where seen.insert(ObjectIdentifier(task.process)).inserted {
            let table = task.process.descriptors
            for fd in table.descriptors {
                guard let file = table[fd]?.file, file.isDetached, let handle = file.handle, file.service.writesAtAnyOffset,
                      seen.insert(ObjectIdentifier(file)).inserted else { continue }
                found.append((handle, file.service))
            }
        }
        return found
    }

    /// What is open here under `location` (of the file `file` only, when
    /// given: a link to it) lost its name: cut loose, its cached copy too.
    private func cutLoose(_ location: RemoteLocation, _ file: FileIdentity?) {
        detachOpenFiles(at: location, of: file)
        writeBack?.removed(location, identity: file)
        options.cache?.detach(key: Self.cacheKey(location))
        copied?.forget(Self.cacheKey(location))
    }

    /// Before `location` is removed, or replaced by a rename of `from`: what
    /// the change will do to files open here (see NameChangePlan). When the
    /// file may outlive the name (a symbolic link, one of several hard
    /// links), what the program wrote into copies of it so far is sent
    /// first, and the file is held open for what it writes after the name
    /// is gone (see HeldCopy). The server is asked only when something is open
    /// (its answers then usually kept: the attribute cache asks anyway).
    func beforeRemoving(_ location: RemoteLocation, service: FileService,
                        renamingFrom from: RemoteLocation? = nil) -> NameChangePlan {
        var plan = NameChangePlan()
        var isOpen = writeBack?.locations.contains(location) ?? false
        var knowsFiles = writeBack?.knowsFiles ?? false
        var writesKnownFiles = knowsFiles
        forEachOpenFile { file in
            isOpen = isOpen || (file.location == location && !file.isDetached)
            let known = file.identity != nil && !file.isDetached
            knowsFiles = knowsFiles || known
            writesKnownFiles = writesKnownFiles || (known && file.isWritable)
        }
        guard isOpen || knowsFiles else { return plan }
        // The name's file: as last answered when that is kept (an `rm -r`
        // listed what it removes, an `mv` looked at both names), else asked
        // when something open under it or written elsewhere may be it.
        let kept = service as? AttributeCache
        func lookUp(_ path: String) -> FileStatus? {
            if isOpen { return try? service.lstat(path) }  // kept answers while fresh, else the server
            if let known = kept?.kept(path, follow: false) { return known }
            return writesKnownFiles ? try? service.lstat(path) : nil
        }
        let status = lookUp(location.path)
        let fromStatus = from.flatMap { lookUp($0.path) }
        if let status, let fromStatus, let file = FileIdentity(status), FileIdentity(fromStatus) == file {
            plan.changesNothing = true
            return plan
        }
        if isOpen, let status, status.isSymbolicLink || status.nlink > 1 {
            // Held first: what goes now may take the program's rights with it (a chmod 444).
            plan.held = holdFile(at: location, service: service)
            writeBack?.giveBackNow(at: location)
            copies?.giveBackNow(at: location)
        }
        guard knowsFiles else { return plan }
        if let status, status.isRegularFile, status.nlink == 1, let file = FileIdentity(status) {
            let aliases = openLocations(of: file).filter { $0 != location }
            if !aliases.isEmpty { plan.dying = (file, aliases) }
        }
        if let from, let fromStatus, fromStatus.isRegularFile, fromStatus.nlink == 1, let file = FileIdentity(fromStatus) {
            let aliases = openLocations(of: file).filter { $0.moved(from: from, to: from) == nil }
            if !aliases.isEmpty { plan.moving = (file, aliases) }
        }
        return plan
    }

    /// The server's file at `location`, opened once for each copy written
    /// there, to go on taking what the copy gets once the name is gone (none
    /// when the server says no: then those writes are lost, as the log says).
    private func holdFile(at location: RemoteLocation, service: FileService) -> [(copy: HeldCopy, handle: ServiceHandle, service: FileService)] {
        // Elsewhere an open to write is a whole new file (FTP's STOR), not a descriptor on this one.
        guard service.writesAtAnyOffset else { return [] }
        let written = (writeBack?.written(at: location) ?? []).map { (HeldCopy.cached($0), $0.changes.appendsFrom != nil) }
            + (copies?.written(at: location) ?? []).map { (HeldCopy.madeReal($0), $0.changes.appendsFrom != nil) }
        return written.compactMap { (copy, appending) in
            do throws(ServiceError) {
                let handle = try service.open(location.path, flags: O_WRONLY | (appending ? O_APPEND : 0), mode: 0)
                return (copy, handle, service)
            } catch {
                log.write("cannot hold \(location) open before its name goes (\(error)): what is written into its copy after is lost")
                return nil
            }
        }
    }

    /// Where the file `file` is open here: descriptors and copies being written.
    private func openLocations(of file: FileIdentity) -> [RemoteLocation] {
        var found = Set(writeBack?.locations(of: file) ?? [])
        forEachOpenFile { open in
            if open.identity == file && !open.isDetached { found.insert(open.location) }
        }
        return Array(found)
    }

    /// The server says `location` names another file than the one this agent
    /// copied under it (replaced by someone else): the copy is cut loose
    /// before the new file is fetched, so that programs still reading the old
    /// one keep it, and the name's identity changes with its file.
    func cutLooseIfReplaced(_ location: RemoteLocation, _ status: FileStatus, on service: FileService) {
        // Only a regular file's status says which file the copy is (a link's lstat is the link's).
        guard status.isRegularFile, let cache = options.cache, let copied else { return }
        let key = Self.cacheKey(location)
        guard copied.isAnotherFile(key, status, on: service),
              !(writeBack?.isTracked(key) ?? false), !(streamedCopies?.isKeeping(key: key) ?? false) else { return }
        cache.detach(key: key)
        copied.forget(key)
    }

    private func detachOpenFiles(at location: RemoteLocation, of identity: FileIdentity? = nil) {
        forEachOpenFile { file in
            guard file.location == location, !file.isDetached, identity == nil || file.identity == identity else { return }
            streamedCopies?.drop(file)
            file.isDetached = true
            if file.handle != nil && file.service.writesAtAnyOffset { keepAliveFromNow() }
        }
    }

    /// Whether a traced program has a descriptor on the local file `path`
    /// (read from /proc: only when inotify's counts may be off).
    func holdsOpen(_ path: String) -> Bool {
        var seen = Set<ObjectIdentifier>()
        for (tid, task) in tasks where seen.insert(ObjectIdentifier(task.process)).inserted {
            let directory = "/proc/\(tid)/fd"  // any thread's: the process's table
            if let listing = opendir(directory) {
                defer { closedir(listing) }
                while let entry = readdir(listing) {
                    let name = directoryEntryName(entry)
                    if name != ".", name != "..", Self.linkTarget(directory + "/" + name) == path { return true }
                }
            }
            // A mapping holds the file too, its descriptor long closed.
            let needle = Array((" " + path + "\n").utf8)
            if let maps = try? LocalDescriptor.open("/proc/\(tid)/maps", flags: O_RDONLY, mode: 0) {
                defer { maps.close() }
                if (try? maps.readAll())?.withUnsafeBufferPointer({ Self.contains($0, needle) }) == true { return true }
            }
        }
        return false
    }

    /// Every open remote file: the programs' descriptors and local copies.
    func forEachOpenFile(_ body: (OpenFile) -> Void) {
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
