import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// The bare `/SERVICE` directory: it exists and lists as empty (servers are
/// named, never discovered: no catalog is asked), and nothing can be made in it.
final class ServiceRoot: FileService {
    var writesAtAnyOffset: Bool { false }
    var readsInRoundTrips: Bool { false }
    var listsWithStatus: Bool { false }
    var hasSymbolicLinks: Bool { false }
    static let shared = ServiceRoot()

    static let status = FileStatus(dev: 0, ino: 1, mode: UInt32(S_IFDIR) | 0o555, nlink: 2, uid: 0, gid: 0, rdev: 0,
                                   size: 0, atime: Timestamp(seconds: 0), mtime: Timestamp(seconds: 0),
                                   ctime: Timestamp(seconds: 0), blksize: 4096, blocks: 0)

    private func refuse(_ what: String) -> ServiceError {
        ServiceError(errno: EACCES, message: "\(what): the service directory holds only servers")
    }

    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        throw ServiceError(errno: EISDIR, message: "open: a directory")
    }
    func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int { throw ServiceError(errno: EBADF) }
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int { throw ServiceError(errno: EBADF) }
    func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int { throw ServiceError(errno: EBADF) }
    func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int { throw ServiceError(errno: EBADF) }
    func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus { Self.status }
    func close(_ handle: ServiceHandle) throws(ServiceError) {}
    func stat(_ path: String) throws(ServiceError) -> FileStatus { Self.status }
    func lstat(_ path: String) throws(ServiceError) -> FileStatus { Self.status }
    func access(_ path: String, mode: Int32) throws(ServiceError) {
        if mode & W_OK != 0 { throw refuse("access") }
    }
    func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] { [] }
    func mkdir(_ path: String, mode: UInt32) throws(ServiceError) { throw ServiceError(errno: EEXIST) }
    func rmdir(_ path: String) throws(ServiceError) { throw refuse("rmdir") }
    func unlink(_ path: String) throws(ServiceError) { throw ServiceError(errno: EISDIR) }
    func rename(_ from: String, to: String) throws(ServiceError) { throw refuse("rename") }
    func link(_ existing: String, to newPath: String) throws(ServiceError) { throw refuse("link") }
    func symlink(target: String, at path: String) throws(ServiceError) { throw ServiceError(errno: EEXIST) }
    func readlink(_ path: String) throws(ServiceError) -> String { throw ServiceError(errno: EINVAL) }
    func truncate(_ path: String, length: Int64) throws(ServiceError) { throw ServiceError(errno: EISDIR) }
    func chmod(_ path: String, mode: UInt32) throws(ServiceError) { throw refuse("chmod") }
    func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) { throw refuse("chown") }
    func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) { throw refuse("utimes") }
    func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        FileSystemStatus(type: 0, blockSize: 4096, blocks: 0, freeBlocks: 0, availableBlocks: 0, files: 0, freeFiles: 0)
    }
}
