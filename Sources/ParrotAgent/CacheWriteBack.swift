import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Cached copies the program opened for writing. The kernel tells, through
/// inotify, every open (IN_OPEN) and every last close of an open file
/// (IN_CLOSE_*) of a copy, and whether it was written (IN_MODIFY) or had its
/// mode or times set (IN_ATTRIB). When no descriptor of a written copy is
/// left, it goes back to the server. Events are read before every stop the
/// agent handles, and the kernel queues a close's event before close()
/// returns (or before an exiting writer's parent can see it exit): whoever
/// looks at the file through the agent next sees the written data.
final class CacheWriteBack {
    final class Tracked {
        /// The name's entry and copy; a rename moves them along (see moved).
        var key: String
        var dataPath: String
        var location: RemoteLocation
        let service: FileService
        /// The server's file, when known: the copy is reached by other names too.
        var identity: FileIdentity?
        /// The server's file, opened before the copy's name went while the
        /// file kept other names: the copy goes back through it, to no name.
        var held: ServiceHandle?
        /// What its closes are awaited by: a held copy's is its own, not the
        /// name's, which a new file may have taken meanwhile.
        var closesKey: String { held == nil ? key : dataPath }
        var changes: CopyChanges
        /// Opens rewritten to the copy whose IN_OPEN has not arrived yet.
        var expected = 0
        /// Open files of the copy (any process) not yet closed.
        var opens = 0
        /// IN_OPEN events seen: past one, inotify may have merged two opens'
        /// or two closes' events (it merges an event with the unread one
        /// before it), so the counts may be off and the programs are asked.
        var openEvents = 0
        var watch: Int32 = -1

        init(key: String, dataPath: String, location: RemoteLocation, service: FileService, remoteMode: UInt32) {
            self.key = key
            self.dataPath = dataPath
            self.location = location
            self.service = service
            changes = CopyChanges(remoteMode: remoteMode)
        }
    }

    let cache: WholeFileCache
    let log: DebugLog
    private var inotify: Int32 = -1
    private var byWatch: [Int32: Tracked] = [:]
    private var byKey: [String: Tracked] = [:]
    private var byPath: [String: Tracked] = [:]
    /// Watched closes under way, by key.
    private var closes = AwaitedCloses()

    /// Told of every copy written back, so that other names' copies go.
    var copiedFiles: CopiedFiles?
    /// Whether some traced program holds a descriptor on a path (set by the agent).
    var isOpen: ((String) -> Bool)?

    init(cache: WholeFileCache, log: DebugLog) {
        self.cache = cache
        self.log = log
    }

    var isEmpty: Bool { byWatch.isEmpty }

    func isTracked(_ key: String) -> Bool { byKey[key] != nil }

    /// Where the copy being written under `key` is (set aside, it is not the entry's file).
    func dataPath(ofTracked key: String) -> String? { byKey[key]?.dataPath }

    /// The copy of the file `identity` on `service` being written, under any
    /// of its names (hard links), or held since its name went: the file, for
    /// opens of the others.
    func trackedCopy(of identity: FileIdentity, on service: FileService) -> (key: String, dataPath: String)? {
        byWatch.values.first { $0.identity == identity && $0.service === service }.map { ($0.key, $0.dataPath) }
    }

    /// Whether some copy is held (see hold): a file with one name left may be one.
    var holdsFiles: Bool { byWatch.values.contains { $0.held != nil } }

    /// The server descriptors copies are held through.
    var heldHandles: [(handle: ServiceHandle, service: FileService)] {
        byWatch.values.compactMap { tracked in tracked.held.map { ($0, tracked.service) } }
    }

    /// Copies being written that have a name (held ones have none).
    private var named: [Tracked] { byWatch.values.filter { $0.held == nil } }

    /// Where copies being written are, for a rename to move their entries.
    var locations: [RemoteLocation] { named.map(\.location) }

    /// The places of copies being written of the file `identity`.
    func locations(of identity: FileIdentity) -> [RemoteLocation] {
        named.filter { $0.identity == identity }.map(\.location)
    }

    /// Whether some copy being written (or held) has a known file.
    var knowsFiles: Bool { byWatch.values.contains { $0.identity != nil } }

    /// The copies being written at `location`.
    func written(at location: RemoteLocation) -> [Tracked] {
        named.filter { $0.location == location }
    }

    /// `tracked`'s name went while its file stays (see HeldCopy): it goes
    /// back through `handle`, and the name's entry starts afresh.
    func hold(_ tracked: Tracked, through handle: ServiceHandle) {
        guard byWatch[tracked.watch] === tracked, tracked.held == nil else {
            try? tracked.service.close(handle)
            return
        }
        unindex(tracked)
        moveAside(tracked)
        byPath[tracked.dataPath] = tracked
        tracked.held = handle
    }

    /// The file `identity`, open here under `alias` (a symbolic link to it),
    /// was renamed to `to`: its copy goes back there. The copy is no entry's
    /// any more (the entry for `to` is the renamed name's own): it moves out
    /// of the way, so that the link's name, which leads nowhere now, starts
    /// afresh (see giveBack for its end).
    func follow(_ alias: RemoteLocation, of identity: FileIdentity, to: RemoteLocation) {
        for tracked in named where tracked.location == alias && tracked.identity == identity {
            unindex(tracked)
            moveAside(tracked)
            byPath[tracked.dataPath] = tracked
            tracked.location = to
        }
    }

    /// A rename through the agent, after the cache moved the entries whose
    /// old keys are `copiesMoved`: a copy being written at `to` belongs to no
    /// name now, and copies under `from` are their new names' entries,
    /// written back there (one the cache could not move stays where it is,
    /// written back from there, and is no entry's).
    func moved(from: RemoteLocation, to: RemoteLocation, copiesMoved: Set<String>) {
        removed(to)
        for tracked in named {
            guard let now = tracked.location.moved(from: from, to: to) else { continue }
            unindex(tracked)
            let moved = copiesMoved.contains(tracked.key)
            tracked.location = now
            tracked.key = Agent.cacheKey(now)
            if moved { tracked.dataPath = cache.dataPath(for: tracked.key) }
            byKey[tracked.key] = tracked
            byPath[tracked.dataPath] = tracked
        }
    }

    /// The name of a copy being written was removed through the agent (or
    /// given to another file): what the program still writes into it goes
    /// nowhere, as into a removed local file; the cache cuts the copy loose.
    func removed(_ location: RemoteLocation, identity: FileIdentity? = nil) {
        for tracked in named where tracked.location == location && (identity == nil || tracked.identity == identity) {
            unindex(tracked)
            byWatch.removeValue(forKey: tracked.watch)
            inotify_rm_watch(inotify, tracked.watch)
            closes.forget(tracked.key)
        }
    }

    /// Sends what copies at `location` hold now, before the name goes (see
    /// Agent.beforeRemoving); a failure is logged, the data kept as the copy.
    func giveBackNow(at location: RemoteLocation) {
        settle()
        for tracked in named where tracked.location == location && tracked.changes.isChanged(at: tracked.dataPath) {
            // Unwatched meanwhile: the agent's own read of the copy must not
            // count as a program's open and close. (A close missed then
            // delays the write-back to the end; a write missed shows in the mtime.)
            byWatch.removeValue(forKey: tracked.watch)
            inotify_rm_watch(inotify, tracked.watch)
            do throws(ServiceError) {
                _ = try tracked.changes.giveBack(from: tracked.dataPath, to: location.path, on: tracked.service)
                tracked.changes.reset(at: tracked.dataPath)
                copiedFiles?.changed(try? tracked.service.stat(location.path), on: tracked.service, except: tracked.key)
            } catch {
                // Never drop data silently: out of the cache's way, where the log says.
                unindex(tracked)
                moveAside(tracked)
                byKey[tracked.key] = tracked
                byPath[tracked.dataPath] = tracked
                log.write("cannot write \(location) back before its name goes (\(error)); its data is kept in \(tracked.dataPath)")
            }
            let watch = inotify_add_watch(inotify, tracked.dataPath, UInt32(Self.watchedEvents))
            if watch >= 0 { tracked.watch = watch }
            byWatch[tracked.watch] = tracked
        }
    }

    /// Moves the copy out of its entry's file, which its key's name then
    /// starts afresh from (a copy already moved stays); returns where it is.
    @discardableResult
    private func moveAside(_ tracked: Tracked) -> String {
        if tracked.dataPath == cache.dataPath(for: tracked.key), let aside = cache.setAside(key: tracked.key) {
            tracked.dataPath = aside
        }
        return tracked.dataPath
    }

    private func unindex(_ tracked: Tracked) {
        if byKey[tracked.key] === tracked { byKey.removeValue(forKey: tracked.key) }
        if byPath[tracked.dataPath] === tracked { byPath.removeValue(forKey: tracked.dataPath) }
    }

    /// The key of the copy at `path`, if it is being written.
    func key(ofCopy path: String) -> String? { byPath[path]?.closesKey }

    /// A close of a descriptor on `key`'s copy is under way.
    func awaitClose(of key: String) {
        closes.expect(key)
    }

    /// After that close: settles what is queued and says whether the close
    /// was the last and its write-back failed.
    func closeOutcome(of key: String) -> ServiceError? {
        settle()
        return closes.take(key)
    }

    /// Watches `entry`'s copy (once) and counts one more open about to happen.
    func expectOpen(of entry: WholeFileCache.Entry, location: RemoteLocation, service: FileService,
                    remoteMode: UInt32, identity: FileIdentity?) throws(ServiceError) {
        // A held copy is found by its file (opened under another name of it).
        if let tracked = byPath[entry.dataPath] ?? byKey[entry.key] {
            closes.forget(tracked.closesKey)
            tracked.expected += 1
            return
        }
        closes.forget(entry.key)
        if inotify < 0 {
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard inotify >= 0 else { throw ServiceError.posix("inotify_init1") }
        }
        let tracked = Tracked(key: entry.key, dataPath: entry.dataPath, location: location, service: service,
                              remoteMode: remoteMode)
        tracked.identity = identity
        chmod(entry.dataPath, mode_t(tracked.changes.baselineMode))
        tracked.changes.watching(entry.dataPath)
        tracked.watch = inotify_add_watch(inotify, entry.dataPath, UInt32(Self.watchedEvents))
        guard tracked.watch >= 0 else { throw ServiceError.posix("inotify_add_watch", entry.dataPath) }
        tracked.expected = 1
        byWatch[tracked.watch] = tracked
        byKey[entry.key] = tracked
        byPath[entry.dataPath] = tracked
    }

    static let watchedEvents = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_MODIFY | IN_ATTRIB

    /// Handles the events queued so far.
    func settle() {
        guard inotify >= 0, !byWatch.isEmpty else { return }
        var touched: [Tracked] = [], closed: Set<ObjectIdentifier> = []
        InotifyEvents.drain(inotify) { watch, mask in
            guard let tracked = byWatch[watch] else { return }
            if mask & UInt32(IN_OPEN) != 0 {
                tracked.opens += 1
                tracked.openEvents += 1
                if tracked.expected > 0 { tracked.expected -= 1 }
            }
            if let refused = tracked.changes.note(mask, of: tracked.dataPath, nameless: tracked.held, on: tracked.service) {
                log.write("\(tracked.location): a mode set after its name went was refused (\(refused))")
            }
            if mask & UInt32(IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) != 0 {
                tracked.opens -= 1
                closed.insert(ObjectIdentifier(tracked))
            }
            touched.append(tracked)
        }
        for tracked in touched where tracked.expected == 0 && byWatch[tracked.watch] === tracked {
            let stillOpen = closed.contains(ObjectIdentifier(tracked)) && tracked.openEvents > 1
                ? isOpen?(tracked.dataPath) ?? (tracked.opens > 0) : tracked.opens > 0
            if !stillOpen { finish(tracked) }
        }
    }

    /// At the end: every program is gone, so everything written goes back.
    func settleAll() {
        settle()
        for tracked in Array(byWatch.values) { finish(tracked) }
    }

    private func finish(_ tracked: Tracked) {
        byWatch.removeValue(forKey: tracked.watch)
        unindex(tracked)
        inotify_rm_watch(inotify, tracked.watch)
        do throws(ServiceError) {
            try giveBack(tracked)
            closes.record(tracked.closesKey, nil)
        } catch {
            closes.record(tracked.closesKey, error)
            // Never drop written data silently: keep it where the user can find it.
            let kept = moveAside(tracked)
            log.write("cannot write \(tracked.location) back (\(error)); its data is kept in \(kept)")
        }
    }

    private func giveBack(_ tracked: Tracked) throws(ServiceError) {
        let path = tracked.location.path, service = tracked.service
        if let held = tracked.held {
            try giveBack(tracked, through: held)
            return
        }
        if try tracked.changes.giveBack(from: tracked.dataPath, to: path, on: service), log.enabled(.namespace) {
            log.write("wrote \(tracked.location) back from the cache")
        }
        // The copy is the server's file again: later opens may use it.
        if tracked.dataPath != cache.dataPath(for: tracked.key) || Agent.cacheKey(tracked.location) != tracked.key {
            // Not its name's entry (moved aside, or followed from a link): it goes.
            cache.invalidate(key: tracked.key)
            unlink(tracked.dataPath)
            copiedFiles?.changed(try? service.stat(path), on: service)
        } else if let status = try? service.stat(path) {
            // Other names' copies go first: a shared copy (hard links) is valid again after.
            copiedFiles?.changed(status, on: service, except: tracked.key)
            cache.committed(key: tracked.key, status: status, link: Agent.linkKey(tracked.location, status))
        }
    }

    /// A held copy goes back through its handle; it is no entry's, so it goes
    /// after, and so do the copies of the file's other names.
    private func giveBack(_ tracked: Tracked, through held: ServiceHandle) throws(ServiceError) {
        let service = tracked.service
        var closed = false
        defer { if !closed { try? service.close(held) } }
        let attributesLeft = try tracked.changes.giveBack(from: tracked.dataPath, through: held, on: service,
                                                          name: tracked.location.path)
        let status = try? service.fstat(held)
        closed = true
        try service.close(held)  // a refused write sent ahead says so here
        if !attributesLeft.isEmpty {
            log.write("\(tracked.location): \(attributesLeft.joined(separator: " and ")) set after its name went cannot go back; the data went")
        }
        if log.enabled(.namespace) { log.write("wrote \(tracked.location)'s file back through a descriptor held since its name went") }
        unlink(tracked.dataPath)
        copiedFiles?.changedUnderNoName(status, at: tracked.location, on: service)
    }
}
