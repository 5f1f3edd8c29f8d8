#if canImport(Glibc)
import Glibc
#endif

/// A file opened through a service. Only the service that returned it knows
/// what it stands for (a local fd, a remote fd that survives reconnects, ...).
public struct ServiceHandle: Hashable, Sendable {
    public let rawValue: Int

    public init(rawValue: Int) {
        self.rawValue = rawValue
    }
}

public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
    case md5, sha1
}

/// One protocol driver (local, chirp, ...). Paths are the service's own
/// (absolute, already resolved by the namespace); flags and modes are POSIX.
/// Every failure is a `ServiceError` carrying the errno a local filesystem
/// would give. Drivers are called from several threads.
public protocol FileService: AnyObject, Sendable {
    /// Whether an open file takes writes at any offset as they come (FTP's
    /// STOR cannot seek back): then a file opened only to be written needs
    /// no local copy. No default, so that wrappers pass on their driver's.
    var writesAtAnyOffset: Bool { get }
    /// Whether every pread is a request and its reply (Chirp), so that reading
    /// ahead saves round trips; drivers that stream sequential reads on an
    /// open transfer (HTTP, FTP) or read local files say no. No default either.
    var readsInRoundTrips: Bool { get }
    /// The server this driver talks to, spelled one way (`host:port`, the
    /// host in lower case, the default port written out), so that two
    /// spellings of one server share one driver and what it keeps; nil for
    /// drivers that have no server.
    var endpoint: String? { get }
    /// Whether readdir's entries carry exactly what lstat of each would
    /// answer (Chirp's getlongdir), so that a listing can answer the stats
    /// that follow it; FTP's listings have coarser times than its MDTM.
    var listsWithStatus: Bool { get }
    /// Whether paths may pass through symbolic links (not HTTP's): then a
    /// working directory and `..` need the server's word on each component
    /// (PhysicalPaths), where HTTP would answer a directory's HEAD with 404.
    var hasSymbolicLinks: Bool { get }
    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle
    /// open, with the status of what was opened when the protocol tells it
    /// anyway (saves a round trip to learn whether it is a directory).
    func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?)
    /// Reads at the handle's own offset and advances it.
    func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int
    /// Fills `buffer` from `offset` unless the file ends first; 0 at end of file.
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int
    /// Writes at the handle's own offset (the end, with O_APPEND) and advances it.
    func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int
    func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int
    func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus
    func close(_ handle: ServiceHandle) throws(ServiceError)
    /// Returns once every write on the handle is done at the server, with the
    /// failure of one that was not (fsync). Defaults to nothing: most drivers
    /// finish a write before returning it.
    func sync(_ handle: ServiceHandle) throws(ServiceError)
    /// Sets the length of the file open at `handle`, which may have lost
    /// every name; drivers that truncate by name only say ENOTSUP.
    func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError)
    /// Sets the mode of the file open at `handle` (which may have lost every
    /// name); drivers that change modes by name only say ENOTSUP.
    func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError)

    func stat(_ path: String) throws(ServiceError) -> FileStatus
    func lstat(_ path: String) throws(ServiceError) -> FileStatus
    /// `mode` is F_OK or a mask of R_OK, W_OK, X_OK.
    func access(_ path: String, mode: Int32) throws(ServiceError)
    func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry]
    func mkdir(_ path: String, mode: UInt32) throws(ServiceError)
    func rmdir(_ path: String) throws(ServiceError)
    func unlink(_ path: String) throws(ServiceError)
    func rename(_ from: String, to: String) throws(ServiceError)
    func link(_ existing: String, to newPath: String) throws(ServiceError)
    func symlink(target: String, at path: String) throws(ServiceError)
    func readlink(_ path: String) throws(ServiceError) -> String
    func truncate(_ path: String, length: Int64) throws(ServiceError)
    func chmod(_ path: String, mode: UInt32) throws(ServiceError)
    func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError)
    func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError)
    func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus

    /// Copies the whole remote file into `localPath` (created 0600 or truncated);
    /// returns its size. Defaults to open + pread.
    func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64
    /// Replaces the remote file with the whole of `localPath`; returns the size.
    /// Defaults to open + pwrite.
    func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64
    /// The digest of the remote file, computed where the file is. Defaults to ENOTSUP.
    func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8]
}

extension FileService {
    public var endpoint: String? { nil }

    /// `host:port` as `endpoint` spells it (`[v6]:port` for an IPv6 address).
    public static func endpoint(host: String, port: UInt16) -> String {
        let name = host.lowercased()
        return (name.contains(":") ? "[\(name)]" : name) + ":\(port)"
    }

    public func sync(_ handle: ServiceHandle) throws(ServiceError) {}

    public func truncate(_ handle: ServiceHandle, length: Int64) throws(ServiceError) {
        throw ServiceError(errno: ENOTSUP, message: "truncate of an open file: not offered by this service")
    }

    public func chmod(_ handle: ServiceHandle, mode: UInt32) throws(ServiceError) {
        throw ServiceError(errno: ENOTSUP, message: "chmod of an open file: not offered by this service")
    }

    public func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        (try open(path, flags: flags, mode: mode), nil)
    }

    public func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        let handle = try open(path, flags: O_RDONLY, mode: 0)
        defer { try? close(handle) }
        return try getFile(through: handle, to: localPath)
    }

    /// The whole file open at `handle` into `localPath` (made or emptied),
    /// in blocks; returns its size.
    public func getFile(through handle: ServiceHandle, to localPath: String) throws(ServiceError) -> Int64 {
        let local = try LocalDescriptor.open(localPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { local.close() }
        return try copy(chunk: 1 << 20) { (buffer, offset) throws(ServiceError) in
            try pread(handle, into: buffer, at: offset)
        } to: { (buffer, _) throws(ServiceError) in try local.writeAll(buffer) }
    }

    public func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        let local = try LocalDescriptor.open(localPath, flags: O_RDONLY, mode: 0)
        defer { local.close() }
        let handle = try open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        defer { try? close(handle) }
        return try copy(chunk: 1 << 20) { (buffer, _) throws(ServiceError) in
            try local.read(into: buffer)
        } to: { (buffer, offset) throws(ServiceError) in
            var done = 0
            while done < buffer.count {
                done += try pwrite(handle, from: UnsafeRawBufferPointer(rebasing: buffer[done...]), at: offset + Int64(done))
            }
        }
    }

    public func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8] {
        throw ServiceError(errno: ENOTSUP, message: "checksum \(path): not offered by this service")
    }
}

/// Moves bytes from `source` to `sink` in chunks until the source returns 0;
/// returns the total.
func copy(chunk: Int,
          from source: (UnsafeMutableRawBufferPointer, Int64) throws(ServiceError) -> Int,
          to sink: (UnsafeRawBufferPointer, Int64) throws(ServiceError) -> Void) throws(ServiceError) -> Int64 {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    var total: Int64 = 0
    while true {
        let count = try source(buffer, total)
        if count == 0 { return total }
        try sink(UnsafeRawBufferPointer(rebasing: buffer[..<count]), total)
        total += Int64(count)
    }
}
