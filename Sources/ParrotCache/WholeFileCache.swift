import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Whole remote files kept on local disk, so that programs read (and map, and
/// run) them through real descriptors at local speed. An entry is valid while
/// the remote file has the size, modification time and version (an HTTP
/// ETag) it had when fetched (in session mode, -S, an entry fetched or
/// checked once is trusted after).
///
/// Layout of the directory, shared by concurrent agents:
///   KEY-HASH.data   the file, with the remote's mode and times
///   KEY-HASH.meta   "parrot-cache 1", the key, "SIZE MTIME-SEC MTIME-NSEC INODE",
///                   the version when the server gave one, and the file's
///                   link key when it has several names (SharedCopies)
///   KEY-HASH.lock   flock'ed while an agent checks, fetches or evicts the entry
/// A fetch rewrites the entry's file in place (its inode is the identity that
/// stat reports for the remote file) under the lock, and the meta file is
/// written after the data; an entry refetched while another program reads its
/// old contents changes under that reader, as a local file rewritten would.
/// A name removed or given to another file drops its entry's file instead,
/// and a rename moves it (detach, move): readers keep the file they opened.
public final class WholeFileCache {
    public let directory: String
    /// Evict least recently used entries beyond this many bytes.
    public let sizeLimit: Int64
    /// -S: check each entry against the server once per run only.
    public let trustSession: Bool
    public private(set) var hits = 0
    public private(set) var misses = 0
    var checkedThisRun: Set<String> = []

    public struct Entry: Sendable {
        public let key: String
        public let dataPath: String
        public let size: Int64

        public init(key: String, dataPath: String, size: Int64) {
            self.key = key
            self.dataPath = dataPath
            self.size = size
        }
    }

    public init(directory: String, sizeLimit: Int64, trustSession: Bool) {
        self.directory = directory
        self.sizeLimit = sizeLimit
        self.trustSession = trustSession
    }

    /// A valid local copy of the remote file `path` on `service`, named by
    /// `key` (service, server and path). `status` is its current stat, when
    /// the caller has it; nil in session mode lets a checked entry be used
    /// without asking the server.
    /// `link` names the remote file itself when it has other names (see
    /// SharedCopies): their copies are then one local file.
    public func entry(key: String, service: FileService, path: String,
                      status known: FileStatus?, link: String? = nil) throws(ServiceError) -> Entry {
        try prepareDirectory()
        let base = stem(of: key)
        let lock = try Lock(base + ".lock")
        defer { lock.release() }
        if trustSession, checkedThisRun.contains(key), let meta = readMeta(base), meta.key == key, meta.size >= 0 {
            hits += 1
            touch(base + ".meta")
            return Entry(key: key, dataPath: base + ".data", size: meta.size)
        }
        let status: FileStatus
        if let known { status = known } else { status = try service.stat(path) }
        if let link { join(base, key: key, link: link, status: status) }
        let valid = readMeta(base).map { $0.key == key && $0.describes(status) && holds(base, size: $0.size) } ?? false
        if valid || link.map({ adopt(base, key: key, link: $0, status: status) }) == true {
            hits += 1
            checkedThisRun.insert(key)
            touch(base + ".meta")
            return Entry(key: key, dataPath: base + ".data", size: status.size)
        }
        misses += 1
        // Fetched into the entry's own file, whose inode stat has been
        // reporting (see identity); the meta file says "valid" only after.
        unlink(base + ".meta")
        let data = base + ".data"
        if isShared(data) {
            // Other names' file too: changed only once the whole file is here.
            return try fetchShared(key: key, service: service, path: path, status: status, link: link)
        }
        do throws(ServiceError) {
            let size = try service.getFile(path, to: data)
            // Mode and times as the server has them: fstat of the copy matches stat of the name.
            chmod(data, mode_t(status.mode & 0o7777) | 0o600)
            status.setTimes(of: data)
            let entry = try fetched(base, key: key, status: status, size: size, link: link)
            evict(sparing: base, added: size)
            return entry
        } catch {
            truncate(data, 0)
            throw error
        }
    }

    /// The entry's copy for a program that will write it: made empty when the
    /// open truncates (nothing to fetch), else fetched as for reading. Its
    /// meta is dropped until the written copy is back at the server (then
    /// `committed`), so no other reader takes it for the server's file.
    public func entryForWriting(key: String, service: FileService, path: String, status: FileStatus,
                                truncating: Bool, keepCurrent: Bool, link: String? = nil) throws(ServiceError) -> Entry {
        try prepareDirectory()
        let base = stem(of: key)
        // Held open for writing here: its data is newer than the server's. Not
        // even opened: the agent's own open would look like a program's to
        // the watch that counts the copy's opens (CacheWriteBack).
        if keepCurrent { return Entry(key: key, dataPath: base + ".data", size: truncating ? 0 : status.size) }
        if truncating || status.size == 0 {
            // About to be emptied, or empty (just created, say): nothing to fetch.
            let lock = try Lock(base + ".lock")
            defer { lock.release() }
            try makePrivate(base, keepingContents: false)
            let fd = open(base + ".data", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ServiceError.posix("open", base + ".data") }
            // An old copy of a file now empty at the server holds stale bytes.
            if status.size == 0 { ftruncate(fd, 0) }
            close(fd)
            unlink(base + ".meta")
            return Entry(key: key, dataPath: base + ".data", size: truncating ? 0 : status.size)
        }
        // The file's other names may take the copy without a fetch (SharedCopies).
        let entry = try self.entry(key: key, service: service, path: path, status: status, link: link)
        let lock = try Lock(base + ".lock")
        defer { lock.release() }
        try makePrivate(base, keepingContents: true, link: link)
        unlink(base + ".meta")
        return entry
    }

    /// The entry's file, emptied and open for writing (nil if it cannot be),
    /// for a writer that fills it as it sends the same bytes to the server;
    /// invalid until `committed`.
    public func emptiedForWriting(key: String) -> Int32? {
        guard (try? prepareDirectory()) != nil else { return nil }
        let base = stem(of: key)
        guard let lock = try? Lock(base + ".lock") else { return nil }
        defer { lock.release() }
        if let link = readMeta(base)?.linked { unshareMeta(link: link) }
        unlink(base + ".meta")
        checkedThisRun.remove(key)
        guard (try? makePrivate(base, keepingContents: false)) != nil else { return nil }
        let fd = open(base + ".data", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        return fd >= 0 ? fd : nil
    }

    /// The copy went back to the server, which now has `status`: valid again.
    public func committed(key: String, status: FileStatus, link: String? = nil) {
        let base = stem(of: key)
        status.setTimes(of: base + ".data")
        try? writeMeta(base, key: key, size: status.size, mtime: status.mtime, version: status.version, inode: status.ino,
                       linked: link)
        if let link { publish(base, link: link, status: status, size: status.size) }
        checkedThisRun.insert(key)
        evict(sparing: base, added: status.size)  // written entries count against the limit too
    }

    /// Keeps a copy that could not go back under another name, out of the
    /// cache's way; returns that name.
    public func setAside(key: String) -> String? {
        let base = stem(of: key)
        let kept = base + ".unsent.\(getpid()).\(Deadline.now.nanoseconds)"
        unlink(base + ".meta")
        return rename(base + ".data", kept) == 0 ? kept : nil
    }

    /// Cuts the entry's copy loose from its name (the remote file was removed
    /// or replaced by another): its files go, and the key starts afresh with a
    /// new file. Descriptors open on the copy keep it, as descriptors of a
    /// removed local file keep the file, and see nothing of the new one.
    public func detach(key: String) {
        let base = stem(of: key)
        checkedThisRun.remove(key)
        guard exists(base), let lock = try? Lock(base + ".lock") else { return }
        defer { lock.release() }
        unlink(base + ".meta")
        unlink(base + ".data")
    }

    /// The remote file `from` names was renamed to `to`: its copy becomes
    /// `to`'s, as a renamed local file keeps its inode and contents, and what
    /// `to` held is cut loose (see detach). Only a valid entry moves, valid
    /// still (a rename keeps the file's size, time and inode; a server that
    /// changes them fails the check), or one this agent is writing
    /// (`written`): an entry without meta may be another agent's copy being
    /// written. Returns whether the copy moved.
    @discardableResult
    public func move(key from: String, to: String, written: Bool = false) -> Bool {
        let (fromBase, toBase) = (stem(of: from), stem(of: to))
        checkedThisRun.remove(from)
        checkedThisRun.remove(to)  // trusted in session mode only once checked again (a link moved points elsewhere)
        guard fromBase != toBase else { return false }
        guard exists(fromBase) || exists(toBase) else { return false }
        // Both entries' locks, always in the same order between agents.
        let (first, second) = fromBase < toBase ? (fromBase, toBase) : (toBase, fromBase)
        guard let firstLock = try? Lock(first + ".lock") else { return false }
        defer { firstLock.release() }
        guard let secondLock = try? Lock(second + ".lock") else { return false }
        defer { secondLock.release() }
        unlink(toBase + ".meta")
        let meta = readMeta(fromBase).flatMap { $0.key == from ? $0 : nil }
        guard meta != nil || written else {
            unlink(toBase + ".data")
            return false
        }
        unlink(fromBase + ".meta")
        // Over the old copy in one step: descriptors open on it keep it.
        guard rename(fromBase + ".data", toBase + ".data") == 0 else {
            unlink(toBase + ".data")
            return false
        }
        if let meta {
            try? writeMeta(toBase, key: to, size: meta.size, mtime: meta.mtime, version: meta.version, inode: meta.inode,
                           linked: meta.linked)
        }
        return true
    }

    /// Whether the entry's data file is there, readable, with the meta's size.
    func holds(_ base: String, size: Int64) -> Bool {
        var data = stat()
        return lstat(base + ".data", &data) == 0 && Int64(data.st_size) == size && access(base + ".data", R_OK) == 0
    }

    /// Whether the entry has a file (checked before taking its lock, which
    /// would leave a lock file behind for every name ever renamed or removed).
    private func exists(_ base: String) -> Bool {
        access(base + ".data", F_OK) == 0 || access(base + ".meta", F_OK) == 0
    }

    /// The device and inode the entry's copy has, made (empty) if need be:
    /// stat of a remote file reports these, so that they match what fstat of
    /// a descriptor opened through the cache will say (cp, tar and friends
    /// compare the two to notice a file replaced while they copy it).
    /// A file with several names (`link`, see SharedCopies) has one identity
    /// under all of them, as hard links of a local file have.
    public func identity(key: String, link: String? = nil, status: FileStatus? = nil) -> (dev: UInt64, ino: UInt64)? {
        let base = stem(of: key)
        if let link, let status, (try? prepareDirectory()) != nil, let lock = try? Lock(base + ".lock") {
            join(base, key: key, link: link, status: status)
            lock.release()
        }
        let data = base + ".data"
        var existing = stat()
        if lstat(data, &existing) == 0 { return (UInt64(existing.st_dev), UInt64(existing.st_ino)) }
        guard (try? prepareDirectory()) != nil else { return nil }
        let fd = open(data, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// Where the files of the entry `key` live, without their suffixes.
    func stem(of key: String) -> String {
        directory + "/" + Self.hash(key)
    }

    /// Where the copy of `key` lives.
    public func dataPath(for key: String) -> String {
        stem(of: key) + ".data"
    }

    /// In session mode: the entry was checked in this run and is trusted.
    public func isTrusted(_ key: String) -> Bool {
        trustSession && checkedThisRun.contains(key)
    }

    /// Forgets an entry (the remote file changed through this agent), and
    /// what its file's other names share. An entry without meta may be a
    /// copy being written (entryForWriting): it stays without.
    public func invalidate(key: String) {
        let base = stem(of: key)
        checkedThisRun.remove(key)
        guard let lock = try? Lock(base + ".lock") else {
            unlink(base + ".meta")
            return
        }
        defer { lock.release() }
        if let link = readMeta(base)?.linked { unshareMeta(link: link) }
        outdate(base)
    }

    /// The file of `link` changed through no name of this cache (written
    /// back through a descriptor held since its name went): the copy its
    /// names share is not taken as valid any more.
    public func forgetShared(link: String) {
        guard exists(stem(of: link)) else { return }  // never shared here
        let lock = try? Lock(stem(of: link) + ".lock")
        defer { lock?.release() }
        unshareMeta(link: link)
    }

    /// Marks the entry's copy out of date with a meta that describes no
    /// file: a copy with meta is not being written (SharedCopies joins it).
    func outdate(_ base: String) {
        guard let meta = readMeta(base) else { return }
        tombstone(base, key: meta.key, linked: meta.linked)
    }

    /// A meta that describes no file, aged so that eviction takes it first.
    func tombstone(_ base: String, key: String, linked: String? = nil) {
        checkedThisRun.remove(key)
        guard (try? writeMeta(base, key: key, size: -1, mtime: Timestamp(seconds: 0, nanoseconds: 0), version: nil,
                              inode: nil, linked: linked)) != nil else { return }
        var never = [timespec(tv_sec: 0, tv_nsec: 0), timespec(tv_sec: 0, tv_nsec: 0)]
        utimensat(AT_FDCWD, base + ".meta", &never, 0)
    }

    /// What the cache holds, as last counted plus what was fetched since
    /// (nil until counted once): the directory is read again only when this
    /// passes the limit, not on every miss.
    private var estimatedBytes: Int64?

    /// Removes least recently used entries (by the meta file's time, touched
    /// on every hit) until the cache fits its limit; entries another agent is
    /// busy with are skipped.
    func evict(sparing kept: String, added: Int64 = 0) {
        if let estimate = estimatedBytes {
            estimatedBytes = estimate + added
            if estimate + added <= sizeLimit { return }
        }
        guard let dir = opendir(directory) else { return }
        var entries: [(base: String, used: Int, size: Int64, valid: Bool)] = []
        var total: Int64 = 0
        while let item = readdir(dir) {
            let name = directoryEntryName(item)
            guard name.hasSuffix(".data") else { continue }
            let base = directory + "/" + name.dropLast(5)
            var data = stat(), meta = stat()
            guard lstat(base + ".data", &data) == 0 else { continue }
            let valid = lstat(base + ".meta", &meta) == 0
            // A copy under several names (SharedCopies) counts once in all.
            let size = Int64(data.st_blocks) * 512 / Int64(max(data.st_nlink, 1))
            total += size
            entries.append((base, valid ? meta.st_mtim.tv_sec : 0, size, valid))
        }
        closedir(dir)
        estimatedBytes = total
        guard total > sizeLimit else { return }
        // An entry without its meta file is being written (a copy the program
        // holds open, a file streamed to the server) or fetched: never evicted,
        // or the data would be gone before it goes back.
        for entry in entries.sorted(by: { $0.used < $1.used }) where total > sizeLimit && entry.base != kept && entry.valid {
            guard let lock = try? Lock(entry.base + ".lock", wait: false) else { continue }
            unlink(entry.base + ".meta")
            unlink(entry.base + ".data")
            lock.release()
            total -= entry.size
        }
        estimatedBytes = total
    }

    private var directoryMade = false

    private func prepareDirectory() throws(ServiceError) {
        if directoryMade { return }
        var made = ""
        for part in directory.split(separator: "/") {
            made += "/" + part
            if mkdir(made, 0o700) != 0 && errno != EEXIST { throw ServiceError.posix("mkdir", made) }
        }
        directoryMade = true
    }

    struct Meta: Equatable {
        let key: String
        let size: Int64
        let mtime: Timestamp
        let version: String?
        /// The server's inode for the file copied (nil in older entries): a
        /// file replaced by a rename may keep the size and the second.
        var inode: UInt64? = nil
        /// The link key of a file with several names, whose copy it shares.
        var linked: String? = nil

        /// Whether the copy is of the file `status` describes, as it is now.
        func describes(_ status: FileStatus) -> Bool {
            size == status.size && mtime == status.mtime && version == status.version
                && inode.map({ $0 == status.ino }) ?? true
        }
    }

    /// Read on every open of a cached file: into a buffer on the stack and
    /// parsed off the bytes (splitting it into Strings took a third of the
    /// agent's own time for such an open).
    func readMeta(_ base: String) -> Meta? {
        let fd = open(base + ".meta", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(byteCount: 8192, alignment: 8) { buffer -> Meta? in
            let n = read(fd, buffer.baseAddress, buffer.count)
            return n > 0 ? Self.parseMeta(UnsafeRawBufferPointer(rebasing: buffer[..<n])) : nil
        }
    }

    /// `parrot-cache 1`, the key, `size seconds nanoseconds [inode]`, the version
    /// (empty: none), the link key (absent or empty: none), each on its own
    /// line; nil for anything else.
    static func parseMeta(_ bytes: UnsafeRawBufferPointer) -> Meta? {
        var lines: [Range<Int>] = []
        var start = 0
        while lines.count < 5, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(start..<newline)
            start = newline + 1
        }
        guard lines.count >= 3, bytes[lines[0]].elementsEqual("parrot-cache 1".utf8) else { return nil }
        var numbers: [Int64] = []
        for word in bytes[lines[2]].split(separator: UInt8(ascii: " ")) {
            guard let number = Int64(String(decoding: word, as: UTF8.self)) else { return nil }
            numbers.append(number)
        }
        guard numbers.count == 3 || numbers.count == 4 else { return nil }
        let version = lines.count > 3 && !lines[3].isEmpty ? String(decoding: bytes[lines[3]], as: UTF8.self) : nil
        let linked = lines.count > 4 && !lines[4].isEmpty ? String(decoding: bytes[lines[4]], as: UTF8.self) : nil
        return Meta(key: String(decoding: bytes[lines[1]], as: UTF8.self), size: numbers[0],
                    mtime: Timestamp(seconds: numbers[1], nanoseconds: numbers[2]), version: version,
                    inode: numbers.count == 4 ? UInt64(bitPattern: numbers[3]) : nil, linked: linked)
    }

    func writeMeta(_ base: String, key: String, size: Int64, mtime: Timestamp, version: String?,
                   inode: UInt64?, linked: String? = nil) throws(ServiceError) {
        let numbers = "\(size) \(mtime.seconds) \(mtime.nanoseconds)" + (inode.map { " \(Int64(bitPattern: $0))" } ?? "")
        // A version is one header value: it has no line breaks.
        let text = "parrot-cache 1\n\(key)\n\(numbers)\n\(version ?? "")\n" + (linked.map { $0 + "\n" } ?? "")
        let temporary = base + ".meta.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServiceError.posix("open", temporary) }
        let bytes = Array(text.utf8)
        let written = write(fd, bytes, bytes.count)
        close(fd)
        guard written == bytes.count, rename(temporary, base + ".meta") == 0 else {
            unlink(temporary)
            throw ServiceError.posix("write", base + ".meta")
        }
    }

    private func touch(_ path: String) {
        utimensat(AT_FDCWD, path, nil, 0)
    }

    /// FNV-1a, 64 bits, as hex: names entries (the key itself is in the meta
    /// file, so a collision is a miss, never a wrong file).
    public static func hash(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// An exclusive flock on a lock file, between agents sharing a cache.
struct Lock {
    let fd: Int32

    init(_ path: String, wait: Bool = true) throws(ServiceError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServiceError.posix("open", path) }
        guard flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0 else {
            let error = ServiceError.posix("flock", path)
            close(fd)
            throw error
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
