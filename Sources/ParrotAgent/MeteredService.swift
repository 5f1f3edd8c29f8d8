import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// A driver that tells the job recorder what it did: operations, bytes and
/// the time spent waiting for the server.
final class MeteredService: FileService, @unchecked Sendable {
    var writesAtAnyOffset: Bool { inner.writesAtAnyOffset }
    var readsInRoundTrips: Bool { inner.readsInRoundTrips }
    var listsWithStatus: Bool { inner.listsWithStatus }
    var hasSymbolicLinks: Bool { inner.hasSymbolicLinks }
    let inner: FileService
    let server: String
    let recorder: JobRecorder

    init(_ inner: FileService, server: String, recorder: JobRecorder) {
        self.inner = inner
        self.server = server
        self.recorder = recorder
    }

    private func metered<T>(_ operation: String, read: (T) -> Int64 = { _ in 0 }, written: Int64 = 0,
                            _ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        let start = Deadline.now.nanoseconds
        do throws(ServiceError) {
            let result = try body()
            recorder.noteService(server, operation, read: read(result), written: written,
                                 nanoseconds: Deadline.now.nanoseconds - start)
            return result
        } catch {
            recorder.noteService(server, operation, nanoseconds: Deadline.now.nanoseconds - start)
            throw error
        }
    }

    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try metered("open") { () throws(ServiceError) in try inner.open(path, flags: flags, mode: mode) }
    }
    func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        try metered("open") { () throws(ServiceError) in try inner.openWithStatus(path, flags: flags, mode: mode) }
    }
    func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        try metered("read", read: { Int64($0) }) { () throws(ServiceError) in try inner.read(handle, into: buffer) }
    }
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try metered("read", read: { Int64($0) }) { () throws(ServiceError) in try inner.pread(handle, into: buffer, at: offset) }
    }
    func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        try metered("write", written: Int64(buffer.count)) { () throws(ServiceError) in try inner.write(handle, from: buffer) }
    }
    func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        try metered("write", written: Int64(buffer.count)) { () throws(ServiceError) in try inner.pwrite(handle, from: buffer, at: offset) }
    }
    func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus {
        try metered("fstat") { () throws(ServiceError) in try inner.fstat(handle) }
    }
    func close(_ handle: ServiceHandle) throws(ServiceError) {
        try metered("close") { () throws(ServiceError) in try inner.close(handle) }
    }
    func sync(_ handle: ServiceHandle) throws(ServiceError) {
        try metered("fsync") { () throws(ServiceError) in try inner.sync(handle) }
    }
    func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError) {
        try metered("ftruncate") { () throws(ServiceError) in try inner.truncate(handle, length: length) }
    }
    func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError) {
        try metered("fchmod") { () throws(ServiceError) in try inner.chmod(handle, mode: mode) }
    }
    func stat(_ path: String) throws(ServiceError) -> FileStatus {
        try metered("stat") { () throws(ServiceError) in try inner.stat(path) }
    }
    func lstat(_ path: String) throws(ServiceError) -> FileStatus {
        try metered("lstat") { () throws(ServiceError) in try inner.lstat(path) }
    }
    func access(_ path: String, mode: Int32) throws(ServiceError) {
        try metered("access") { () throws(ServiceError) in try inner.access(path, mode: mode) }
    }
    func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        try metered("readdir") { () throws(ServiceError) in try inner.readdir(path) }
    }
    func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try metered("mkdir") { () throws(ServiceError) in try inner.mkdir(path, mode: mode) }
    }
    func rmdir(_ path: String) throws(ServiceError) {
        try metered("rmdir") { () throws(ServiceError) in try inner.rmdir(path) }
    }
    func unlink(_ path: String) throws(ServiceError) {
        try metered("unlink") { () throws(ServiceError) in try inner.unlink(path) }
    }
    func rename(_ from: String, to: String) throws(ServiceError) {
        try metered("rename") { () throws(ServiceError) in try inner.rename(from, to: to) }
    }
    func link(_ existing: String, to newPath: String) throws(ServiceError) {
        try metered("link") { () throws(ServiceError) in try inner.link(existing, to: newPath) }
    }
    func symlink(target: String, at path: String) throws(ServiceError) {
        try metered("symlink") { () throws(ServiceError) in try inner.symlink(target: target, at: path) }
    }
    func readlink(_ path: String) throws(ServiceError) -> String {
        try metered("readlink") { () throws(ServiceError) in try inner.readlink(path) }
    }
    func truncate(_ path: String, length: Int64) throws(ServiceError) {
        try metered("truncate") { () throws(ServiceError) in try inner.truncate(path, length: length) }
    }
    func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        try metered("chmod") { () throws(ServiceError) in try inner.chmod(path, mode: mode) }
    }
    func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        try metered("chown") { () throws(ServiceError) in try inner.chown(path, uid: uid, gid: gid) }
    }
    func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        try metered("utimes") { () throws(ServiceError) in try inner.utimes(path, access: access, modification: modification) }
    }
    func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        try metered("statfs") { () throws(ServiceError) in try inner.statfs(path) }
    }
    func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        try metered("getfile", read: { $0 }) { () throws(ServiceError) in try inner.getFile(path, to: localPath) }
    }
    func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        let size = Self.localSize(localPath)
        return try metered("putfile", written: size) { () throws(ServiceError) in try inner.putFile(localPath, to: path, mode: mode) }
    }
    func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8] {
        try metered("checksum") { () throws(ServiceError) in try inner.checksum(path, algorithm: algorithm) }
    }

    static func localSize(_ path: String) -> Int64 {
        var status = Glibc.stat()
        return Glibc.lstat(path, &status) == 0 ? Int64(status.st_size) : 0
    }
}
