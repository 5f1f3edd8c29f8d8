#if canImport(Glibc)
import Glibc
#endif
import CLinuxHeaders

/// The local filesystem behind the service protocol: plain POSIX calls on the
/// agent's own paths. A handle is the agent's file descriptor.
public final class LocalFileService: FileService {
    public var writesAtAnyOffset: Bool { true }
    public var readsInRoundTrips: Bool { false }
    public var listsWithStatus: Bool { false }
    public var hasSymbolicLinks: Bool { true }
    public init() {}

    public func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        ServiceHandle(rawValue: Int(try LocalDescriptor.open(path, flags: flags, mode: mode).fd))
    }

    public func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        try descriptor(handle).read(into: buffer)
    }

    public func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = Glibc.pread(Int32(handle.rawValue), buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw .posix("pread")
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    public func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        try descriptor(handle).writeAll(buffer)
        return buffer.count
    }

    public func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        while true {
            let count = Glibc.pwrite(Int32(handle.rawValue), buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw .posix("pwrite") }
        }
    }

    public func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus {
        try descriptor(handle).status()
    }

    public func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError) {
        guard Glibc.ftruncate(Int32(handle.rawValue), off_t(length)) == 0 else { throw .posix("ftruncate") }
    }

    public func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError) {
        guard Glibc.fchmod(Int32(handle.rawValue), mode_t(mode)) == 0 else { throw .posix("fchmod") }
    }

    public func close(_ handle: ServiceHandle) throws(ServiceError) {
        // Linux releases the descriptor even when close reports EINTR: never retry.
        guard Glibc.close(Int32(handle.rawValue)) == 0 || errno == EINTR else { throw .posix("close") }
    }

    public func stat(_ path: String) throws(ServiceError) -> FileStatus {
        var st = Glibc.stat()
        guard systemStat(path, &st) == 0 else { throw .posix("stat", path) }
        return FileStatus(st)
    }

    public func lstat(_ path: String) throws(ServiceError) -> FileStatus {
        var st = Glibc.stat()
        guard Glibc.lstat(path, &st) == 0 else { throw .posix("lstat", path) }
        return FileStatus(st)
    }

    public func access(_ path: String, mode: Int32) throws(ServiceError) {
        try check(Glibc.access(path, mode), "access", path)
    }

    public func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        guard let dir = opendir(path) else { throw .posix("opendir", path) }
        defer { closedir(dir) }
        var entries: [DirectoryEntry] = []
        errno = 0
        while let entry = Glibc.readdir(dir) {
            let name = directoryEntryName(entry)
            entries.append(DirectoryEntry(name: name))
        }
        if errno != 0 { throw .posix("readdir", path) }
        return entries
    }

    public func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try check(Glibc.mkdir(path, mode), "mkdir", path)
    }

    public func rmdir(_ path: String) throws(ServiceError) {
        try check(Glibc.rmdir(path), "rmdir", path)
    }

    public func unlink(_ path: String) throws(ServiceError) {
        try check(Glibc.unlink(path), "unlink", path)
    }

    public func rename(_ from: String, to: String) throws(ServiceError) {
        try check(Glibc.rename(from, to), "rename", from)
    }

    public func link(_ existing: String, to newPath: String) throws(ServiceError) {
        try check(Glibc.link(existing, newPath), "link", newPath)
    }

    public func symlink(target: String, at path: String) throws(ServiceError) {
        try check(Glibc.symlink(target, path), "symlink", path)
    }

    public func readlink(_ path: String) throws(ServiceError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw .posix("readlink", path) }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func truncate(_ path: String, length: Int64) throws(ServiceError) {
        try check(Glibc.truncate(path, off_t(length)), "truncate", path)
    }

    public func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        try check(Glibc.chmod(path, mode), "chmod", path)
    }

    public func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        try check(Glibc.chown(path, uid, gid), "chown", path)
    }

    public func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        let times = [timespec(tv_sec: Int(access.seconds), tv_nsec: Int(access.nanoseconds)),
                     timespec(tv_sec: Int(modification.seconds), tv_nsec: Int(modification.nanoseconds))]
        try check(utimensat(AT_FDCWD, path, times, 0), "utimensat", path)
    }

    public func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        var fs = CLinuxHeaders.statfs()
        guard systemStatfs(path, &fs) == 0 else { throw .posix("statfs", path) }
        let type = Int64(fs.f_type), blockSize = Int64(fs.f_bsize)
        return FileSystemStatus(type: type, blockSize: blockSize, blocks: Int64(fs.f_blocks),
                                freeBlocks: Int64(fs.f_bfree), availableBlocks: Int64(fs.f_bavail),
                                files: Int64(fs.f_files), freeFiles: Int64(fs.f_ffree))
    }

    private func descriptor(_ handle: ServiceHandle) -> LocalDescriptor {
        LocalDescriptor(fd: Int32(handle.rawValue), path: "fd \(handle.rawValue)")
    }

    private func check(_ result: Int32, _ operation: String, _ path: String) throws(ServiceError) {
        if result != 0 { throw .posix(operation, path) }
    }
}

// At file scope the C functions are not hidden by the methods of the same name.
private func systemStat(_ path: String, _ st: inout stat) -> Int32 { stat(path, &st) }
private func systemStatfs(_ path: String, _ fs: inout statfs) -> Int32 { statfs(path, &fs) }
