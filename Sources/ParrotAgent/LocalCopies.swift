import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Local copies of remote files that the program needed as real descriptors
/// (dup'ed onto stdout, mmap'ed). The agent learns that the program's last
/// descriptor of a copy is gone from inotify's IN_CLOSE events, which the
/// kernel queues before close() returns or the exiting process's parent can
/// see it exit; they are read before every remote operation, so a written
/// copy is back at the server before anyone can look there through the agent.
final class LocalCopies {
    final class Copy {
        let path: String
        let file: OpenFile
        var changes: CopyChanges
        /// Its early write-back failed: kept when done, where the log said.
        var isKept = false
        /// An eager append the server refused: the last close reports it.
        var appendFailure: ServiceError?
        /// The server's file, open to append, for the copy's eager appends.
        var appendHandle: ServiceHandle?
        /// The server's file, opened before its name went while the file
        /// kept another (see HeldCopy): the copy goes back through it.
        var held: ServiceHandle?
        /// Made real after its name went: the copy goes back through the
        /// file's own handle, kept open for it (OpenFile.keep).
        var borrowed = false
        /// The handle the copy goes back through when it has no name.
        var nameless: ServiceHandle? { held ?? (borrowed ? file.handle : nil) }
        /// The last bytes sent: different later, the program truncated or
        /// rewrote the file meanwhile (writes and truncates are not trapped).
        var sentTail: [UInt8] = []
        /// The agent's own descriptor of a copy opened to append, opened before
        /// the watch: reading through it raises no close to count.
        var reader: Int32 = -1
        /// Program opens of the copy not yet seen closed (IN_OPEN: the program
        /// may open the copy itself too, through /dev/stdout or /proc/self/fd).
        var opens = 0
        /// Opens injected that have not run yet (see opened).
        var expected = 0
        /// IN_OPEN events seen.
        var openEvents = 0
        /// Opened more than once: inotify may have merged two opens' or two
        /// closes' events, so the counts may be off and the programs are asked.
        var reopened = false
        var watch: Int32
        init(path: String, file: OpenFile, watch: Int32, remoteMode: UInt32) {
            self.path = path
            self.file = file
            self.watch = watch
            changes = CopyChanges(remoteMode: remoteMode)
        }
    }

    let directory: String
    let log: DebugLog
    /// The whole-file cache, whose entry for a file written back here may
    /// have been fetched meanwhile (same size, same second: it would pass).
    let cache: WholeFileCache?
    private var inotify: Int32 = -1
    private var byWatch: [Int32: Copy] = [:]
    private var byFile: [ObjectIdentifier: Copy] = [:]
    private var byPath: [String: Copy] = [:]
    /// Whether some traced program holds a descriptor on a path (set by the agent).
    var isOpen: ((String) -> Bool)?
    /// Gives back a file kept for a copy (OpenFile.keep), closing it when
    /// nothing else refers to it (set by the agent).
    var unkeep: ((OpenFile) -> Void)?
    /// Told of every copy written back early, so that other names' cached copies go.
    var copiedFiles: CopiedFiles?
    /// Watched closes under way, by copy path.
    private var closes = AwaitedCloses()

    init(directory: String, log: DebugLog, cache: WholeFileCache?) {
        self.directory = directory
        self.log = log
        self.cache = cache
    }

    var isEmpty: Bool { byWatch.isEmpty }

    /// The open files whose copies are held.
    var openFiles: [OpenFile] { byPath.values.map(\.file) }

    /// Whether `path` is a copy the program holds.
    func holds(_ path: String) -> Bool { byPath[path] != nil }

    /// A close of a descriptor on the copy at `path` is under way.
    func awaitClose(of path: String) {
        closes.expect(path)
    }

    /// After that close: settles what is queued and says whether the close
    /// was the last and its write-back failed.
    func closeOutcome(of path: String) -> ServiceError? {
        settle()
        return closes.take(path)
    }

    /// The copy of `file` (fetched on first use), counted as opened once more.
    func copy(of file: OpenFile) throws(ServiceError) -> Copy {
        if let copy = byFile[ObjectIdentifier(file)] {
            copy.expected += 1
            copy.reopened = true
            closes.forget(copy.path)
            return copy
        }
        if inotify < 0 {
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard inotify >= 0 else { throw ServiceError.posix("inotify_init1") }
        }
        try makeDirectory()
        let path = try LocalDescriptor.makeTemporary(in: directory, prefix: "copy")
        // Opened only to append: nothing to fetch, and what the program
        // writes goes back as an append (see CopyChanges.appendsFrom).
        // Its name gone, the file's own handle reaches it, when what it allows
        // is what the copy needs: the whole file read and written at offsets,
        // or appends only (an O_APPEND handle would append an overwrite).
        // Judged by the flags the handle was opened with (F_SETFL does not reach the server's).
        let writesAtAnyOffset = file.service.writesAtAnyOffset, appendOnly = file.accessMode == O_WRONLY && file.flags & O_APPEND != 0
        let handleAppends = file.openedFlags & O_APPEND != 0
        let borrows = file.isDetached && writesAtAnyOffset && file.handle != nil
            && (appendOnly ? handleAppends : file.accessMode == O_RDWR && !handleAppends)
        let appends = appendOnly && writesAtAnyOffset && (!file.isDetached || borrows)
        do throws(ServiceError) {
            if !appends { try fetch(file, to: path) }
        } catch {
            unlink(path)
            throw error
        }
        // The remote's mode first: the agent's own chmod must not look like the program's.
        var remoteMode: UInt32 = 0o644
        let remote = file.isDetached ? (borrows ? file.handle.flatMap { try? file.service.fstat($0) } : nil)
            : try? file.service.stat(file.location.path)
        if let status = remote {
            remoteMode = status.mode & 0o7777
            // The remote's times too: fstat of the copy says what stat of the
            // name says, and a write (mapped ones included) moves them on.
            status.setTimes(of: path)
        }
        chmod(path, mode_t(CopyChanges(remoteMode: remoteMode).baselineMode))
        // Opened before the watch: the agent's own reads raise no event it counts.
        let reader = appends ? Glibc.open(path, O_RDONLY | O_CLOEXEC) : -1
        let watch = inotify_add_watch(inotify, path, UInt32(Self.watchedEvents))
        guard watch >= 0 else {
            if reader >= 0 { Glibc.close(reader) }
            unlink(path)
            throw ServiceError.posix("inotify_add_watch", path)
        }
        let copy = Copy(path: path, file: file, watch: watch, remoteMode: remoteMode)
        copy.changes.watching(path)
        if appends {
            copy.changes.appendsFrom = 0
            copy.reader = reader
        }
        if borrows {
            copy.borrowed = true
            file.keep()
            borrowing?()
        }
        copy.expected = 1
        byWatch[watch] = copy
        byFile[ObjectIdentifier(file)] = copy
        byPath[path] = copy
        return copy
    }

    /// The copy of `file` is mapped shared and writable: it goes back.
    func mappedForWriting(_ file: OpenFile) {
        byFile[ObjectIdentifier(file)]?.changes.mappedForWriting = true
    }

    /// An injected open of the copy ran: no longer pending.
    func opened(_ copy: Copy) {
        copy.expected = max(0, copy.expected - 1)
    }

    /// The program did not get its descriptor after all.
    func abandon(_ copy: Copy) {
        copy.expected = max(0, copy.expected - 1)
        if copy.opens <= 0 && copy.expected <= 0 { finish(copy, writeBack: false) }
    }

    /// The copies being written of files open at `location`.
    func written(at location: RemoteLocation) -> [Copy] {
        byWatch.values.filter { $0.file.location == location && !$0.file.isDetached && $0.file.isWritable && $0.held == nil }
    }

    /// The server descriptors copies without a name go back through (held or borrowed).
    var heldHandles: [(handle: ServiceHandle, service: FileService)] {
        byWatch.values.compactMap { copy in copy.nameless.map { ($0, copy.file.service) } }
    }
    /// Told when a copy borrows its file's handle, which an idle connection would take with it.
    var borrowing: (() -> Void)?

    /// `copy`'s name went while its file stays: it goes on through `handle`.
    func hold(_ copy: Copy, through handle: ServiceHandle) {
        guard byWatch[copy.watch] === copy, copy.held == nil else {
            try? copy.file.service.close(handle)
            return
        }
        copy.held = handle
    }

    /// Sends what copies of files at `location` hold now, before the name
    /// goes (see Agent.beforeRemoving); a failure is logged.
    func giveBackNow(at location: RemoteLocation) {
        settle()
        for copy in Array(byWatch.values) where copy.file.location == location && !copy.file.isDetached && copy.held == nil
            && copy.changes.isChanged(at: copy.path) {
            // Unwatched meanwhile: the agent's own read of the copy must not
            // count as a program's close (see CacheWriteBack.giveBackNow).
            byWatch.removeValue(forKey: copy.watch)
            inotify_rm_watch(inotify, copy.watch)
            do throws(ServiceError) {
                _ = try copy.changes.giveBack(from: copy.path, to: location.path, on: copy.file.service)
                copy.changes.reset(at: copy.path)
                cache?.invalidate(key: Agent.cacheKey(location))
                copiedFiles?.changed(try? copy.file.service.stat(location.path), on: copy.file.service)
            } catch {
                // Never drop data silently: the copy stays where the log says.
                copy.isKept = true
                log.write("cannot write \(location) back before its name goes (\(error)); its data is kept in \(copy.path)")
            }
            let watch = inotify_add_watch(inotify, copy.path, UInt32(Self.watchedEvents))
            if watch >= 0 { copy.watch = watch }
            byWatch[copy.watch] = copy
        }
    }

    static let watchedEvents = IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_MODIFY | IN_ATTRIB

    /// Handles the close events queued so far.
    func settle() {
        guard inotify >= 0, !byWatch.isEmpty else { return }
        InotifyEvents.drain(inotify) { watch, mask in
            guard let copy = byWatch[watch] else { return }
            if let refused = copy.changes.note(mask, of: copy.path, nameless: copy.nameless, on: copy.file.service) {
                log.write("\(copy.file.location): a mode set after its name went was refused (\(refused))")
            }
            if mask & UInt32(IN_OPEN) != 0 {
                copy.openEvents += 1
                if copy.openEvents > 1 { copy.reopened = true }
                copy.opens += 1
            }
            if mask & UInt32(IN_MODIFY) != 0 && copy.changes.appendsFrom != nil { sendAppended(copy) }
            guard mask & UInt32(IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) != 0 else { return }
            copy.opens -= 1
            guard copy.expected <= 0 else { return }  // an open about to run
            // Counts that merged events may have put off: the programs are asked.
            let held = copy.reopened ? isOpen?(copy.path) ?? (copy.opens > 0) : copy.opens > 0
            if !held { finish(copy, writeBack: true) }
        }
    }

    /// What the program appended to a copy opened to append goes at once, in
    /// the order it was written (events come in that order): the server's
    /// file shows it to whoever looks next, ahead of later writes made
    /// through other descriptors, and a truncate meanwhile is not undone by
    /// it. A failure leaves the bytes for the last close, which reports it.
    private func sendAppended(_ copy: Copy) {
        guard !copy.file.isDetached || copy.nameless != nil, copy.reader >= 0, var reached = copy.changes.appendsFrom,
              copy.appendFailure == nil else { return }
        defer { copy.changes.appendsFrom = reached }
        let service = copy.file.service, path = copy.file.location.path
        var local = stat()
        guard fstat(copy.reader, &local) == 0 else { return }
        if Int64(local.st_size) < reached || Self.bytes(copy.reader, before: reached, count: copy.sentTail.count) != copy.sentTail {
            // The program truncated the file (an O_TRUNC open of /dev/stdout,
            // ftruncate), perhaps writing again since: as a truncate of the
            // file would, the server's file starts over with what the copy holds.
            do throws(ServiceError) {
                if let nameless = copy.nameless { try service.truncate(nameless, length: 0) } else { try service.truncate(path, length: 0) }
            } catch {
                // Appended again over what it holds, the file would hold it twice.
                appendFailed(copy, error)
                return
            }
            reached = 0
        }
        defer { copy.sentTail = Self.bytes(copy.reader, before: reached, count: 64) }
        guard Int64(local.st_size) > reached else { return }
        do throws(ServiceError) {
            // Opened before the name went, the handle kept reaches the file still.
            if copy.appendHandle == nil, copy.nameless == nil {
                copy.appendHandle = try service.open(path, flags: O_WRONLY | O_APPEND, mode: 0)
            }
            try CopyChanges.append(copy.reader, from: &reached, to: path, on: service, through: copy.appendHandle ?? copy.nameless)
        } catch {
            appendFailed(copy, error)
        }
    }

    /// The server refused an append: the last close reports it, as a failed
    /// write-back is, and the copy is kept.
    private func appendFailed(_ copy: Copy, _ error: ServiceError) {
        copy.appendFailure = error
        log.write("cannot append to \(copy.file.location) (\(error)); the data is kept in \(copy.path)")
    }

    /// Up to `count` bytes of the file at `fd` that end at `end`.
    private static func bytes(_ fd: Int32, before end: Int64, count: Int) -> [UInt8] {
        let start = max(0, end - Int64(count))
        var bytes = [UInt8](repeating: 0, count: Int(end - start))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        return n == bytes.count ? bytes : []
    }

    /// Everything left, when no program is left to hold a copy open.
    func settleAll() {
        settle()
        for copy in Array(byWatch.values) { finish(copy, writeBack: true) }
    }

    private func finish(_ copy: Copy, writeBack: Bool) {
        byWatch.removeValue(forKey: copy.watch)
        byFile.removeValue(forKey: ObjectIdentifier(copy.file))
        byPath.removeValue(forKey: copy.path)
        inotify_rm_watch(inotify, copy.watch)
        if copy.reader >= 0 {
            sendAppended(copy)  // what is left, through the handle kept
            Glibc.close(copy.reader)
        }
        if let handle = copy.appendHandle {
            // Appends go out ahead of their replies: a refusal may come with the close.
            do throws(ServiceError) { try copy.file.service.close(handle) } catch where copy.appendFailure == nil {
                appendFailed(copy, error)
            } catch {}
        }
        if let nameless = copy.nameless {
            finishNameless(copy, nameless, writeBack: writeBack)
            return
        }
        if let failure = copy.appendFailure {
            closes.record(copy.path, failure)
            return  // kept, as the log said
        }
        // A copy whose name was removed or given to another file has no name to go back to.
        if writeBack && copy.file.isDetached && copy.changes.isChanged(at: copy.path) {
            log.write("\(copy.file.location): what was written into its copy made real after its name went has no name to go back to; dropped")
        }
        if writeBack && !copy.file.isDetached && copy.changes.isChanged(at: copy.path) {
            do throws(ServiceError) {
                let wrote = try copy.changes.giveBack(from: copy.path, to: copy.file.location.path, on: copy.file.service)
                if wrote { cache?.invalidate(key: Agent.cacheKey(copy.file.location)) }
                if wrote && log.enabled(.namespace) { log.write("wrote \(copy.file.location) back from \(copy.path)") }
            } catch {
                // Never drop data silently: say where it is.
                log.write("cannot write \(copy.file.location) back (\(error)); its data is kept in \(copy.path)")
                closes.record(copy.path, error)
                return
            }
        }
        closes.record(copy.path, nil)
        if !copy.isKept { unlink(copy.path) }
    }

    /// The end of a copy without a name: the rest of its data goes through
    /// the handle held (appends went already), whose close reports writes
    /// refused, or through the file's own, which is synced and given back.
    private func finishNameless(_ copy: Copy, _ held: ServiceHandle, writeBack: Bool) {
        let service = copy.file.service
        var failure = copy.appendFailure
        if failure == nil && writeBack && copy.changes.appendsFrom == nil && copy.changes.isChanged(at: copy.path) {
            do throws(ServiceError) {
                let left = try copy.changes.giveBack(from: copy.path, through: held, on: service, name: copy.file.location.path)
                if !left.isEmpty {
                    log.write("\(copy.file.location): \(left.joined(separator: " and ")) set after its name went cannot go back; the data went")
                }
            } catch {
                failure = error
            }
        }
        if copy.borrowed, failure == nil {
            do throws(ServiceError) { try service.sync(held) } catch { failure = error }
        }
        let status = failure == nil ? try? service.fstat(held) : nil
        if copy.borrowed {
            unkeep?(copy.file)
        } else {
            do throws(ServiceError) { try service.close(held) } catch where failure == nil { failure = error } catch {}
        }
        if let failure {
            log.write("cannot write \(copy.file.location)'s file back (\(failure)); its data is kept in \(copy.path)")
        } else if log.enabled(.namespace) {
            log.write("wrote \(copy.file.location)'s file back from \(copy.path) through a descriptor opened before its name went")
        }
        closes.record(copy.path, failure)
        if failure == nil {
            copiedFiles?.changedUnderNoName(status, at: copy.file.location, on: service)
            unlink(copy.path)  // an early failure's data went now too
        }
    }

    private func fetch(_ file: OpenFile, to path: String) throws(ServiceError) {
        // Truncated when opened: nothing to fetch.
        if file.flags & O_TRUNC != 0 && file.isWritable && file.offset == 0 && !file.hasWritten { return }
        if file.isDetached {
            // Its name is another file's now (or none): only the handle still reaches it.
            guard file.isReadable else { return }  // write-only: the program writes into an empty copy
            guard let handle = file.handle else { throw ServiceError(errno: ESTALE) }
            _ = try file.service.getFile(through: handle, to: path)
            return
        }
        do throws(ServiceError) {
            _ = try file.service.getFile(file.location.path, to: path)
        } catch where !file.isReadable {
            // Write-only and unreadable: the program writes into an empty copy.
            return
        }
    }

    private func makeDirectory() throws(ServiceError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw ServiceError.posix("mkdir", directory) }
    }
}
