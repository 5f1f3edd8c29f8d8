import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Keeps a server's answers to stat, lstat and readlink, found or not, for a
/// short while, as NFS clients keep attributes: a compiler looks for the same
/// missing headers in every -I directory for each file it compiles, and
/// realpath asks readlink of every component. A change this agent makes at the
/// server forgets what it can affect: the names changed, their parents (whose
/// times and link counts move), for a directory renamed or removed everything
/// under it, and every name of a changed file (by its device and inode, as
/// far as answers kept or the open's reply tell them: a write through a
/// symbolic or hard link forgets the file's other names); writes through an
/// open handle forget its file, and a name made or removed through a link
/// to a directory is forgotten under the directory's other names known
/// (see aliases). Changes by other clients, and names made through a link
/// this agent never read or followed, show after `lifetime` at most (with
/// -S: never within the run). Data read ahead on open files (ReadAhead, for drivers whose
/// reads are round trips) is trusted for as long.
final class AttributeCache: FileService, @unchecked Sendable {
    var writesAtAnyOffset: Bool { inner.writesAtAnyOffset }
    var readsInRoundTrips: Bool { inner.readsInRoundTrips }
    var listsWithStatus: Bool { inner.listsWithStatus }
    var hasSymbolicLinks: Bool { inner.hasSymbolicLinks }
    let inner: FileService
    /// Seconds an answer is kept; infinity in session mode.
    let lifetime: Double
    private var answers: [Key: (until: UInt64, answer: Result<FileStatus, ServiceError>)] = [:]
    private var links: [String: (until: UInt64, answer: Result<String, ServiceError>)] = [:]
    /// The links read, by where they lead (it may since have changed: that
    /// only costs an answer forgotten too many).
    private var linkedFrom: [String: Set<String>] = [:]
    /// The keys of answers found, by the file they describe.
    private var namesOf: [Identity: Set<Key>] = [:]
    /// Moves with every forgetting: an answer fetched across one is not kept.
    private var generation: UInt64 = 0
    /// Handles open for writing: the path each writes, and its file when the
    /// open said.
    private var writers: [ServiceHandle: (path: String, identity: Identity?)] = [:]
    /// Drivers may be called from several threads.
    private let lock = Mutex()
    let readAhead: ReadAhead?

    private struct Key: Hashable {
        let path: String
        let follow: Bool
    }

    private typealias Identity = FileIdentity

    init(_ inner: FileService, lifetime: Double) {
        self.inner = inner
        self.lifetime = lifetime
        readAhead = inner.readsInRoundTrips ? ReadAhead(lifetime: lifetime) : nil
    }

    private var expiry: UInt64 { Deadline.now.adding(seconds: lifetime).nanoseconds }

    private func remembered(_ path: String, follow: Bool) throws(ServiceError) -> FileStatus {
        let key = Key(path: path, follow: follow)
        let (kept, asOf) = lock.withLock { (answers[key], generation) }
        if let kept, kept.until > Deadline.now.nanoseconds { return try kept.answer.get() }
        let answer: Result<FileStatus, ServiceError>
        do throws(ServiceError) {
            answer = .success(try follow ? inner.stat(path) : inner.lstat(path))
        } catch where [ENOENT, ENOTDIR].contains(error.errno) {
            answer = .failure(error)
        }
        let until = expiry
        lock.withLock { if generation == asOf { keep(answer, at: key, until: until) } }
        return try answer.get()
    }

    /// With the lock held.
    private func keep(_ answer: Result<FileStatus, ServiceError>, at key: Key, until: UInt64) {
        if answers.count > 65536 || namesOf.count > 65536 {
            answers.removeAll()
            namesOf.removeAll()
        }
        answers[key] = (until, answer)
        if case .success(let status) = answer, let identity = Identity(status) {
            namesOf[identity, default: []].insert(key)
        }
    }

    /// The server changed at `paths` through this agent: what was kept about
    /// them and their parents is stale, and with `subtrees` all below them.
    private func changed<T>(_ paths: [String], subtrees: Bool = false, files: [Identity] = [],
                            _ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        defer { forget(paths, subtrees: subtrees, files: files) }
        return try body()
    }

    /// Names are dropped one by one (streamed writes call this for every
    /// write); only subtrees need a look at every answer kept. The files the
    /// names were known to be (and `files`) lose what was kept under any name.
    private func forget(_ paths: [String], subtrees: Bool, files: [Identity] = []) {
        var names = Set(paths.flatMap { path in [PathName.trimmed(path), Self.parent(of: path)] })
        lock.withLock {
            generation &+= 1
            names.formUnion(aliases(of: paths))
            var identities = Set(files)
            var prefixes: [String] = []
            for path in paths {
                let name = PathName.trimmed(path)
                var isDirectory: Bool?
                for follow in [true, false] {
                    if case .success(let status)? = answers[Key(path: name, follow: follow)]?.answer {
                        if let identity = Identity(status) { identities.insert(identity) }
                        if !follow { isDirectory = status.isDirectory }
                    }
                }
                // Only a directory (or a name not known to be none) has a tree below it.
                if subtrees && isDirectory != false { prefixes.append(name == "/" ? "/" : name + "/") }
            }
            for identity in identities {
                for key in namesOf.removeValue(forKey: identity) ?? [] { answers[key] = nil }
            }
            for name in names {
                answers[Key(path: name, follow: true)] = nil
                answers[Key(path: name, follow: false)] = nil
                links[name] = nil
            }
            guard !prefixes.isEmpty else { return }
            for (key, kept) in answers where prefixes.contains(where: { key.path.hasPrefix($0) }) {
                answers[key] = nil
                // Dropped from the index one by one: renamed trees must not pile up there.
                if case .success(let status) = kept.answer, let identity = Identity(status) {
                    namesOf[identity]?.remove(key)
                    if namesOf[identity]?.isEmpty == true { namesOf[identity] = nil }
                }
            }
            links = links.filter { link in !prefixes.contains { link.key.hasPrefix($0) } }
        }
    }

    /// The same names under the directory's other names, as far as kept
    /// answers tell: its names of one identity (a symbolic link to it
    /// stat'ed, its real name listed), a link's target (read by `ls -l` or
    /// realpath), the links read that point at it. A name made or removed
    /// through one is made or removed under all. With the lock held.
    private func aliases(of paths: [String]) -> [String] {
        var found: [String] = []
        for path in paths {
            let name = PathName.trimmed(path), parent = Self.parent(of: path)
            guard name != parent else { continue }
            let leaf = String(name.dropFirst(parent == "/" ? 1 : parent.count + 1))
            var directories = linkedFrom[parent] ?? []
            if case .success(let target)? = links[parent]?.answer { directories.insert(Self.resolved(target, in: parent)) }
            if case .success(let directory)? = answers[Key(path: parent, follow: true)]?.answer,
               directory.isDirectory, let identity = Identity(directory) {
                for other in namesOf[identity] ?? [] { directories.insert(other.path) }
            }
            for directory in directories where directory != parent {
                found += [directory, PathName.join(directory, leaf)]
            }
        }
        return found
    }

    /// Where a link at `path` reading `target` leads, lexically.
    static func resolved(_ target: String, in path: String) -> String {
        PathName.normalize(target.hasPrefix("/") ? target : PathName.join(parent(of: path), target))
    }

    /// What was last answered for `path`, however old, without asking.
    func kept(_ path: String, follow: Bool) -> FileStatus? {
        let name = PathName.trimmed(path)
        return lock.withLock {
            if case .success(let status)? = answers[Key(path: name, follow: follow)]?.answer { return status }
            return nil
        }
    }

    /// Whether an answer for `path` is kept (so its file's identity is known).
    private func knows(_ path: String) -> Bool {
        let name = PathName.trimmed(path)
        return lock.withLock { answers[Key(path: name, follow: true)] != nil || answers[Key(path: name, follow: false)] != nil }
    }

    /// A name about to be removed or replaced whose file is not known: asked
    /// first (a round trip only then), so that its other names (hard links,
    /// the real name under a symbolic link to its directory) forget it too.
    private func changedReplacing<T>(_ paths: [String], subtrees: Bool = false,
                                     _ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        let files = paths.filter { !knows($0) }.compactMap { (try? inner.lstat($0)).flatMap(Identity.init) }
        defer { forget(paths, subtrees: subtrees, files: files) }
        return try body()
    }

    /// A change by a name whose file is not known (a link never asked about):
    /// the server says which file it was, and its other names are forgotten.
    private func changedUnknown<T>(_ path: String, _ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        let name = PathName.trimmed(path)
        // A file open for writing under that name is known from its open (cp -p
        // sets mode and times on the descriptor it wrote).
        let writing = lock.withLock { writers.values.first { PathName.trimmed($0.path) == name }?.identity }
        if let writing { return try changed([path], files: [writing], body) }
        if knows(path) { return try changed([path], body) }
        let result = try changed([path], body)
        if let status = try? inner.stat(path), let identity = Identity(status) {
            forget([], subtrees: false, files: [identity])
            // Kept: the stat that usually follows (cp -p, touch) needs no request.
            let until = expiry
            lock.withLock { keep(.success(status), at: Key(path: name, follow: true), until: until) }
        }
        return result
    }

    static func parent(of path: String) -> String {
        let path = PathName.trimmed(path)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    func stat(_ path: String) throws(ServiceError) -> FileStatus { try remembered(path, follow: true) }

    /// The server's answer now, whatever is kept (then kept): a copy about
    /// to be written back must not start from a file changed meanwhile
    /// under another name (a link) whose change forgot only that name.
    func asked(_ path: String, follow: Bool) throws(ServiceError) -> FileStatus {
        lock.withLock { answers[Key(path: path, follow: follow)] = nil }  // namesOf may keep the key: harmless
        return try remembered(path, follow: follow)
    }
    func lstat(_ path: String) throws(ServiceError) -> FileStatus { try remembered(path, follow: false) }

    func access(_ path: String, mode: Int32) throws(ServiceError) {
        // A name known to be missing needs no request.
        if let kept = lock.withLock({ answers[Key(path: path, follow: true)] }), kept.until > Deadline.now.nanoseconds,
           case .failure(let error) = kept.answer { throw error }
        try inner.access(path, mode: mode)
    }

    func readlink(_ path: String) throws(ServiceError) -> String {
        let now = Deadline.now.nanoseconds
        let (link, status) = lock.withLock { (links[path], answers[Key(path: path, follow: false)]) }
        if let link, link.until > now { return try link.answer.get() }
        // What lstat said answers for a name that is missing or no link.
        if let status, status.until > now {
            switch status.answer {
            case .failure(let error): throw error
            case .success(let found) where !found.isSymbolicLink:
                throw ServiceError(errno: EINVAL, message: "\(path): not a symbolic link")
            default: break
            }
        }
        let answer: Result<String, ServiceError>
        do throws(ServiceError) {
            answer = .success(try inner.readlink(path))
        } catch where [ENOENT, ENOTDIR, EINVAL].contains(error.errno) {
            answer = .failure(error)
        }
        let until = expiry
        lock.withLock {
            if links.count > 65536 || linkedFrom.count > 65536 {
                links.removeAll()
                linkedFrom.removeAll()
            }
            links[path] = (until, answer)
            if case .success(let target) = answer { linkedFrom[Self.resolved(target, in: path), default: []].insert(path) }
        }
        return try answer.get()
    }

    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try openWithStatus(path, flags: flags, mode: mode).0
    }
    func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        guard flags & (O_CREAT | O_TRUNC) != 0 || flags & 3 != O_RDONLY else {
            let opened = try inner.openWithStatus(path, flags: flags, mode: mode)
            readAhead?.opened(opened.0, status: opened.1)
            return opened
        }
        let opened = try changed([path]) { () throws(ServiceError) in try inner.openWithStatus(path, flags: flags, mode: mode) }
        let identity = opened.1.flatMap(Identity.init)
        if let identity { forget([], subtrees: false, files: [identity]) }  // truncated, or about to change
        lock.withLock { writers[opened.0] = (path, identity) }
        readAhead?.opened(opened.0, status: opened.1)
        if flags & O_TRUNC != 0 { readAhead?.written(through: opened.0) }
        return opened
    }
    func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        try inner.read(handle, into: buffer)
    }
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        guard let readAhead else { return try inner.pread(handle, into: buffer, at: offset) }
        return try readAhead.pread(handle, into: buffer, at: offset) { (buffer, offset) throws(ServiceError) in
            try inner.pread(handle, into: buffer, at: offset)
        }
    }
    /// A write or truncate through `handle` changed its file: what was kept
    /// of it, and what was read ahead of it, goes.
    private func wrote(through handle: ServiceHandle) {
        forgetWrites(of: handle)
        readAhead?.written(through: handle)
    }

    /// A write through `handle` changed its file (every kept answer, when
    /// the file is not known).
    private func forgetWrites(of handle: ServiceHandle) {
        if let writer = lock.withLock({ writers[handle] }) {
            forget([writer.path], subtrees: false, files: writer.identity.map { [$0] } ?? [])
        } else {
            lock.withLock {
                answers.removeAll(keepingCapacity: true)
                links.removeAll(keepingCapacity: true)
                namesOf.removeAll(keepingCapacity: true)
            }
        }
    }
    func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        defer { wrote(through: handle) }
        return try inner.write(handle, from: buffer)
    }
    func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        defer { wrote(through: handle) }
        return try inner.pwrite(handle, from: buffer, at: offset)
    }
    func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus { try inner.fstat(handle) }
    func close(_ handle: ServiceHandle) throws(ServiceError) {
        // A server may set the time of a written file when it is closed.
        if let writer = lock.withLock({ writers.removeValue(forKey: handle) }) {
            forget([writer.path], subtrees: false, files: writer.identity.map { [$0] } ?? [])
        }
        readAhead?.closed(handle)
        try inner.close(handle)
    }
    func sync(_ handle: ServiceHandle) throws(ServiceError) { try inner.sync(handle) }
    func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError) {
        defer { wrote(through: handle) }
        try inner.truncate(handle, length: length)
    }
    func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError) {
        defer { forgetWrites(of: handle) }
        try inner.chmod(handle, mode: mode)
    }
    /// A listing that carries each entry's lstat (Chirp's getlongdir) answers
    /// the stats that follow it (`ls -l`, `find`, `du`, make): one request per
    /// directory instead of one per name, as NFS's READDIRPLUS.
    func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        let asOf = lock.withLock { generation }
        let entries = try inner.readdir(path)
        guard inner.listsWithStatus, entries.count <= Self.largestListingKept else { return entries }
        let until = expiry
        let directory = PathName.trimmed(path)
        lock.withLock {
            guard generation == asOf else { return }  // something changed meanwhile
            if answers.count + 2 * entries.count > 65536 {
                answers.removeAll()
                namesOf.removeAll()
            }
            var previous: FileStatus?
            for entry in entries where entry.name != "." && entry.name != ".." {
                // cctools' server sends a zeroed status for an entry it could
                // not stat (older ones repeat the entry before's, which no two
                // names share unless they are hard links of one file, never a
                // directory): no answer.
                guard let status = entry.status, status.mode != 0, Identity(status) != nil,
                      previous != status || (status.nlink > 1 && !status.isDirectory) else { continue }
                previous = status
                let name = directory == "/" ? "/" + entry.name : directory + "/" + entry.name
                keep(.success(status), at: Key(path: name, follow: false), until: until)
                if !status.isSymbolicLink { keep(.success(status), at: Key(path: name, follow: true), until: until) }
            }
        }
        return entries
    }

    /// Listings longer than this are not kept (they would push out everything else).
    static let largestListingKept = 16384
    func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try changed([path]) { () throws(ServiceError) in try inner.mkdir(path, mode: mode) }
    }
    func rmdir(_ path: String) throws(ServiceError) {
        try changed([path], subtrees: true) { () throws(ServiceError) in try inner.rmdir(path) }
    }
    func unlink(_ path: String) throws(ServiceError) {
        try changedReplacing([path]) { () throws(ServiceError) in try inner.unlink(path) }
    }
    func rename(_ from: String, to: String) throws(ServiceError) {
        try changedReplacing([from, to], subtrees: true) { () throws(ServiceError) in try inner.rename(from, to: to) }
        // Files open for writing under the old name are written under the new one now.
        lock.withLock {
            for (handle, writer) in writers {
                if let moved = PathName.moved(writer.path, from: from, to: to) { writers[handle] = (moved, writer.identity) }
            }
        }
    }
    func link(_ existing: String, to newPath: String) throws(ServiceError) {
        try changed([existing, newPath]) { () throws(ServiceError) in try inner.link(existing, to: newPath) }
    }
    func symlink(target: String, at path: String) throws(ServiceError) {
        try changed([path]) { () throws(ServiceError) in try inner.symlink(target: target, at: path) }
    }
    func truncate(_ path: String, length: Int64) throws(ServiceError) {
        defer { readAhead?.forgetAll() }
        try changedUnknown(path) { () throws(ServiceError) in try inner.truncate(path, length: length) }
    }
    func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        try changedUnknown(path) { () throws(ServiceError) in try inner.chmod(path, mode: mode) }
    }
    func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        try changedUnknown(path) { () throws(ServiceError) in try inner.chown(path, uid: uid, gid: gid) }
    }
    func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        try changedUnknown(path) { () throws(ServiceError) in try inner.utimes(path, access: access, modification: modification) }
    }
    func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus { try inner.statfs(path) }
    func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        try inner.getFile(path, to: localPath)
    }
    func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        defer { readAhead?.forgetAll() }
        return try changed([path]) { () throws(ServiceError) in try inner.putFile(localPath, to: path, mode: mode) }
    }
    func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8] {
        try inner.checksum(path, algorithm: algorithm)
    }
}
