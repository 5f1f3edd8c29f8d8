import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Keeps a server's answers to stat and lstat, found or not, for a short
/// while, as NFS clients keep attributes: a compiler looks for the same
/// missing headers in every -I directory for each file it compiles. Anything
/// this agent changes at the server clears what is kept; changes by other
/// clients show after `lifetime` at most (with -S: never within the run).
final class AttributeCache: FileService, @unchecked Sendable {
    let inner: FileService
    /// Seconds an answer is kept; infinity in session mode.
    let lifetime: Double
    private var answers: [Key: (until: UInt64, answer: Result<FileStatus, ServiceError>)] = [:]
    /// Drivers may be called from several threads.
    private let lock = Mutex()

    private struct Key: Hashable {
        let path: String
        let follow: Bool
    }

    init(_ inner: FileService, lifetime: Double) {
        self.inner = inner
        self.lifetime = lifetime
    }

    private func remembered(_ path: String, follow: Bool) throws(ServiceError) -> FileStatus {
        let key = Key(path: path, follow: follow)
        let now = Deadline.now.nanoseconds
        if let kept = lock.withLock({ answers[key] }), kept.until > now { return try kept.answer.get() }
        let answer: Result<FileStatus, ServiceError>
        do throws(ServiceError) {
            answer = .success(try follow ? inner.stat(path) : inner.lstat(path))
        } catch where [ENOENT, ENOTDIR].contains(error.errno) {
            answer = .failure(error)
        }
        let until = lifetime.isInfinite ? UInt64.max : now + UInt64(lifetime * 1e9)
        lock.withLock {
            if answers.count > 65536 { answers.removeAll() }
            answers[key] = (until, answer)
        }
        return try answer.get()
    }

    /// The server changed through this agent: nothing kept can be trusted.
    private func changed<T>(_ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        defer { lock.withLock { answers.removeAll(keepingCapacity: true) } }
        return try body()
    }

    func stat(_ path: String) throws(ServiceError) -> FileStatus { try remembered(path, follow: true) }
    func lstat(_ path: String) throws(ServiceError) -> FileStatus { try remembered(path, follow: false) }

    func access(_ path: String, mode: Int32) throws(ServiceError) {
        // A name known to be missing needs no request.
        if let kept = lock.withLock({ answers[Key(path: path, follow: true)] }), kept.until > Deadline.now.nanoseconds,
           case .failure(let error) = kept.answer { throw error }
        try inner.access(path, mode: mode)
    }

    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try openWithStatus(path, flags: flags, mode: mode).0
    }
    func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        if flags & (O_CREAT | O_TRUNC) != 0 || flags & 3 != O_RDONLY {
            return try changed { () throws(ServiceError) in try inner.openWithStatus(path, flags: flags, mode: mode) }
        }
        return try inner.openWithStatus(path, flags: flags, mode: mode)
    }
    func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        try inner.read(handle, into: buffer)
    }
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try inner.pread(handle, into: buffer, at: offset)
    }
    func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        try changed { () throws(ServiceError) in try inner.write(handle, from: buffer) }
    }
    func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try changed { () throws(ServiceError) in try inner.pwrite(handle, from: buffer, at: offset) }
    }
    func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus { try inner.fstat(handle) }
    func close(_ handle: ServiceHandle) throws(ServiceError) { try inner.close(handle) }
    func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] { try inner.readdir(path) }
    func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.mkdir(path, mode: mode) }
    }
    func rmdir(_ path: String) throws(ServiceError) { try changed { () throws(ServiceError) in try inner.rmdir(path) } }
    func unlink(_ path: String) throws(ServiceError) { try changed { () throws(ServiceError) in try inner.unlink(path) } }
    func rename(_ from: String, to: String) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.rename(from, to: to) }
    }
    func link(_ existing: String, to newPath: String) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.link(existing, to: newPath) }
    }
    func symlink(target: String, at path: String) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.symlink(target: target, at: path) }
    }
    func readlink(_ path: String) throws(ServiceError) -> String { try inner.readlink(path) }
    func truncate(_ path: String, length: Int64) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.truncate(path, length: length) }
    }
    func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.chmod(path, mode: mode) }
    }
    func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.chown(path, uid: uid, gid: gid) }
    }
    func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        try changed { () throws(ServiceError) in try inner.utimes(path, access: access, modification: modification) }
    }
    func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus { try inner.statfs(path) }
    func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        try inner.getFile(path, to: localPath)
    }
    func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        try changed { () throws(ServiceError) in try inner.putFile(localPath, to: path, mode: mode) }
    }
    func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8] {
        try inner.checksum(path, algorithm: algorithm)
    }
}
