#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import Synchronization

struct HTTPOpenFile {
    /// Where the file was found (after redirects).
    let location: HTTPLocation
    let status: FileStatus
    /// A strong ETag from the open's HEAD: later reads must be of that version.
    let etag: String?
    var offset: Int64 = 0
    /// Where the last read ended: a read from there reads in order.
    var readEnd: Int64 = -1
    /// The rest of the file, streaming, once it is read in order.
    var stream: HTTPStream?
    /// Where a stream found the file's end.
    var end: Int64?
}

/// An open-ended GET (`Range: bytes=N-`) read as the program reads on: a file
/// read in order costs one request, not one a read. Dropping it closes its
/// connection. (@unchecked: one read at a time uses it; the open-file
/// table's lock guards who holds it.)
final class HTTPStream: @unchecked Sendable {
    let body: HTTPBody
    var position: Int64

    init(body: HTTPBody, position: Int64) {
        self.body = body
        self.position = position
    }
}

struct HTTPOpenFiles {
    var files: [Int: HTTPOpenFile] = [:]
    var next = 0
}

/// The HTTP and HTTPS driver, read-only: `/http/HOST[:PORT]/PATH` and
/// `/https/...` (protocols in README, "HTTP and HTTPS").
///
/// - stat is a HEAD: size from Content-Length, mtime from Last-Modified,
///   mode 0444 for files. A path is a directory (mode 0555) when the answer
///   for it comes, after redirects, from a URL ending in / (servers redirect
///   `dir` to `dir/`; the service root and paths ending in / are asked as such).
/// - reads at an offset are GETs with Range; a server that ignores Range
///   (200) is read from the start and the bytes before the offset skipped.
/// - readdir is a GET of `dir/` whose HTML listing is parsed (AutoIndex).
/// - everything that would change the server is EROFS.
public final class HTTPFileService: FileService {
    public var writesAtAnyOffset: Bool { false }
    public var readsInRoundTrips: Bool { false }  // a GET streams sequential reads
    public var endpoint: String? { Self.endpoint(host: host, port: port) }
    public var listsWithStatus: Bool { false }
    public var hasSymbolicLinks: Bool { false }
    public let secure: Bool
    public let host: String
    public let port: UInt16
    let client: HTTPClient
    private let openFiles = Mutex(HTTPOpenFiles())
    private let device: UInt64

    public init(host: String, port: UInt16, secure: Bool, options: HTTPOptions = HTTPOptions()) {
        self.host = host
        self.port = port
        self.secure = secure
        client = HTTPClient(options: options)
        device = HTTPFileService.hash("\(secure ? "https" : "http")://\(host):\(port)")
    }

    /// `host`, `host:port` or `[v6]:port` (80 or 443 by default).
    public convenience init(authority: String, secure: Bool, options: HTTPOptions = HTTPOptions()) throws(ServiceError) {
        guard let (host, port) = HTTPLocation.server(authority: authority, secure: secure) else {
            throw ServiceError(errno: ENOENT, message: "\(secure ? "https" : "http"): '\(authority)' is not host[:port]")
        }
        self.init(host: host, port: port, secure: secure, options: options)
    }

    func location(_ path: String, directory: Bool = false) -> HTTPLocation {
        var target = HTTPLocation.encode(path.hasPrefix("/") ? path : "/" + path)
        if directory && !target.hasSuffix("/") { target += "/" }
        return HTTPLocation(secure: secure, host: host, port: port, target: target)
    }

    /// The errno a local filesystem would give for what the server answered.
    static func failure(_ head: HTTPResponseHead, _ location: HTTPLocation) -> ServiceError {
        let code: Int32
        switch head.status {
        case 404, 410: code = ENOENT
        case 401, 403, 407: code = EACCES
        case 412: code = ESTALE  // the file changed since it was opened
        case 414: code = ENAMETOOLONG
        case 405, 501: code = ENOTSUP
        case 400: code = EINVAL
        default: code = EIO
        }
        return ServiceError(errno: code, message: "\(location): \(head.status) \(head.reason)")
    }

    // MARK: status

    public func stat(_ path: String) throws(ServiceError) -> FileStatus {
        try client.perform("HEAD", location(path)) { (head, _, final) throws(ServiceError) -> FileStatus in
            if head.status == 405 || head.status == 501 { return try statByRange(final) }
            guard (200..<300).contains(head.status) else { throw Self.failure(head, final) }
            return status(head, final, size: head.header("Content-Length").flatMap { Int64($0) } ?? 0)
        }
    }

    /// For servers without HEAD: the first byte, and the size from Content-Range.
    private func statByRange(_ start: HTTPLocation) throws(ServiceError) -> FileStatus {
        try client.perform("GET", start, headers: { ["Range: bytes=0-0"] }) { (head, body, final) throws(ServiceError) -> FileStatus in
            switch head.status {
            case 206:
                let total = head.header("Content-Range").flatMap { $0.split(separator: "/").last.flatMap { Int64($0) } }
                return status(head, final, size: total ?? 0)
            case 200, 416:
                return status(head, final, size: body.declaredLength ?? 0)
            default:
                throw Self.failure(head, final)
            }
        }
    }

    private func status(_ head: HTTPResponseHead, _ final: HTTPLocation, size: Int64) -> FileStatus {
        let isDirectory = final.target.prefix { $0 != "?" }.hasSuffix("/")
        let mtime = Timestamp(seconds: head.header("Last-Modified").flatMap(HTTPResponseHead.parseDate) ?? 0)
        let size = isDirectory ? 0 : size
        var found = FileStatus(dev: device, ino: Self.hash(final.description), mode: isDirectory ? S_IFDIR | 0o555 : S_IFREG | 0o444,
                               nlink: isDirectory ? 2 : 1, uid: getuid(), gid: getgid(), rdev: 0, size: size,
                               atime: mtime, mtime: mtime, ctime: mtime, blksize: 1 << 16, blocks: FileStatus.allocatedBlocks(forSize: size))
        // Weak tags (W/) promise equivalence, not the same bytes: no use for ranges or the cache.
        found.version = head.header("ETag").flatMap { $0.hasPrefix("W/") ? nil : $0 }
        return found
    }

    public func lstat(_ path: String) throws(ServiceError) -> FileStatus {
        try stat(path)
    }

    public func access(_ path: String, mode: Int32) throws(ServiceError) {
        let status = try stat(path)
        if mode & W_OK != 0 { throw ServiceError(errno: EROFS, message: "\(location(path)): read-only") }
        if mode & X_OK != 0 && !status.isDirectory { throw ServiceError(errno: EACCES) }
    }

    public func readlink(_ path: String) throws(ServiceError) -> String {
        _ = try stat(path)
        throw ServiceError(errno: EINVAL, message: "\(location(path)): not a symbolic link")
    }

    public func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        FileSystemStatus(type: 0, blockSize: 1 << 16, blocks: 0, freeBlocks: 0, availableBlocks: 0, files: 0, freeFiles: 0)
    }

    // MARK: listing

    /// The names the server's HTML listing of the directory links to.
    public func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        try client.perform("GET", location(path, directory: true)) { (head, body, final) throws(ServiceError) -> [DirectoryEntry] in
            guard (200..<300).contains(head.status) else { throw Self.failure(head, final) }
            guard final.target.prefix(while: { $0 != "?" }).hasSuffix("/") else {
                throw ServiceError(errno: ENOTDIR, message: "\(final): not a directory")
            }
            let limit = 32 << 20
            var html: [UInt8] = []
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { chunk.deallocate() }
            while true {
                let count = try body.read(into: chunk)
                if count == 0 { break }
                html += chunk[..<count]
                guard html.count <= limit else { throw ServiceError(errno: EFBIG, message: "\(final): listing over \(limit) bytes") }
            }
            return AutoIndex.entries(html: String(decoding: html, as: UTF8.self), directoryTarget: final.target)
                .map { DirectoryEntry(name: $0.name) }
        }
    }

    // MARK: files

    public func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try openWithStatus(path, flags: flags, mode: mode).0
    }

    public func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        let writes = flags & 3 != O_RDONLY || flags & O_TRUNC != 0
        let (found, final): (FileStatus, HTTPLocation)
        do throws(ServiceError) {
            (found, final) = try client.perform("HEAD", location(path)) { (head, _, final) throws(ServiceError) in
                if head.status == 405 || head.status == 501 { return (try statByRange(final), final) }
                guard (200..<300).contains(head.status) else { throw Self.failure(head, final) }
                return (status(head, final, size: head.header("Content-Length").flatMap { Int64($0) } ?? 0), final)
            }
        } catch where error.errno == ENOENT && flags & O_CREAT != 0 {
            throw ServiceError(errno: EROFS, message: "\(location(path)): read-only")
        }
        if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL { throw ServiceError(errno: EEXIST) }
        if writes { throw ServiceError(errno: found.isDirectory ? EISDIR : EROFS, message: "\(final): read-only") }
        let handle = openFiles.withLock { files in
            files.next += 1
            files.files[files.next] = HTTPOpenFile(location: final, status: found, etag: found.version)
            return files.next
        }
        return (ServiceHandle(rawValue: handle), found)
    }

    private func file(_ handle: ServiceHandle) throws(ServiceError) -> HTTPOpenFile {
        guard let file = openFiles.withLock({ $0.files[handle.rawValue] }) else { throw ServiceError(errno: EBADF) }
        return file
    }

    public func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        let offset = try file(handle).offset
        let count = try pread(handle, into: buffer, at: offset)
        openFiles.withLock { $0.files[handle.rawValue]?.offset = offset + Int64(count) }
        return count
    }

    /// A read where the last one ended goes on with the file's stream
    /// (started at the second read in order); any other read is one GET
    /// with Range for just its bytes, so random access fetches no more.
    public func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        var file = try file(handle)
        if file.status.isDirectory { throw ServiceError(errno: EISDIR) }
        guard buffer.count > 0 else { return 0 }
        guard offset >= 0 else { throw ServiceError(errno: EINVAL) }
        if let end = file.end, offset >= end { return 0 }  // the open's version ends there (If-Match)
        if file.stream?.position != offset { file.stream = nil }
        if file.stream == nil && offset == file.readEnd { file.stream = startStream(file, at: offset) }
        var count: Int? = nil
        if let stream = file.stream {
            do throws(ServiceError) {
                count = try stream.body.readFully(into: buffer)
                stream.position += Int64(count!)
                if count! < buffer.count {  // its end: the connection goes now, the end is known
                    file.stream = nil
                    file.end = stream.position
                }
            } catch {
                file.stream = nil  // cut: the bounded GET below retries
            }
        }
        let read: Int
        if let count { read = count } else { read = try fetch(file, into: buffer, at: offset) }
        let stream = file.stream
        openFiles.withLock {
            $0.files[handle.rawValue]?.stream = stream
            $0.files[handle.rawValue]?.end = file.end
            $0.files[handle.rawValue]?.readEnd = offset + Int64(read)
        }
        return read
    }

    /// The file from `offset` to its end, when the server sends it as asked
    /// (206 from there); nil lets a bounded GET answer instead.
    private func startStream(_ file: HTTPOpenFile, at offset: Int64) -> HTTPStream? {
        var headers = ["Range: bytes=\(offset)-"]
        if let etag = file.etag { headers.append("If-Match: \(etag)") }
        guard let (head, body) = try? client.stream(file.location, headers: headers), head.status == 206,
              head.header("Content-Range").flatMap({ Self.rangeStart($0) }) == offset else { return nil }
        return HTTPStream(body: body, position: offset)
    }

    /// One GET with Range. 206: the bytes; 200 (Range ignored): the body from
    /// the offset on; 416: end of file.
    private func fetch(_ file: HTTPOpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        var headers = ["Range: bytes=\(offset)-\(offset + Int64(buffer.count) - 1)"]
        if let etag = file.etag { headers.append("If-Match: \(etag)") }
        return try client.perform("GET", file.location, headers: { headers }) { (head, body, final) throws(ServiceError) -> Int in
            switch head.status {
            case 206:
                let start = head.header("Content-Range").flatMap { Self.rangeStart($0) } ?? offset
                guard start <= offset, try body.skip(offset - start) else {
                    throw ServiceError(errno: EIO, message: "\(final): asked for bytes from \(offset), got from \(start)")
                }
                return try body.readFully(into: buffer)
            case 200:
                guard try body.skip(offset) else { return 0 }
                return try body.readFully(into: buffer)
            case 416:
                return 0
            default:
                throw Self.failure(head, final)
            }
        }
    }

    /// The first byte position of `bytes START-END/TOTAL`.
    static func rangeStart(_ contentRange: String) -> Int64? {
        let text = contentRange.trimmingPrefix("bytes").drop { $0 == " " }
        return Int64(text.prefix { $0 != "-" })
    }

    public func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus {
        try file(handle).status
    }

    public func close(_ handle: ServiceHandle) throws(ServiceError) {
        // Its stream, if any, goes with it (and closes its connection).
        guard openFiles.withLock({ $0.files.removeValue(forKey: handle.rawValue) }) != nil else { throw ServiceError(errno: EBADF) }
    }

    /// Streams one GET into `localPath`. A transfer cut short is resumed with
    /// Range (If-Range: the same version, or the whole file again).
    public func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        let local = try LocalDescriptor.open(localPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { local.close() }
        var written: Int64 = 0
        var validator: String? = nil
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        let headers = { () -> [String] in
            guard written > 0 else { return [] }
            return ["Range: bytes=\(written)-"] + (validator.map { ["If-Range: \($0)"] } ?? [])
        }
        return try client.perform("GET", location(path), headers: headers) { (head, body, final) throws(ServiceError) -> Int64 in
            switch head.status {
            case 200:
                if written > 0 {
                    guard ftruncate(local.fd, 0) == 0, lseek(local.fd, 0, SEEK_SET) == 0 else { throw .posix("ftruncate", localPath) }
                    written = 0
                }
            case 206 where written > 0:
                guard head.header("Content-Range").flatMap({ Self.rangeStart($0) }) == written else {
                    throw ServiceError(errno: EIO, message: "\(final): resumed at the wrong offset")
                }
            default:
                throw Self.failure(head, final)
            }
            if final.target.prefix(while: { $0 != "?" }).hasSuffix("/") {
                throw ServiceError(errno: EISDIR, message: "\(final): a directory")
            }
            if validator == nil {
                validator = head.header("ETag").flatMap { $0.hasPrefix("W/") ? nil : $0 } ?? head.header("Last-Modified")
            }
            while true {
                let count = try body.read(into: chunk)
                if count == 0 { return written }
                try local.writeAll(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                written += Int64(count)
            }
        }
    }

    // MARK: read-only

    private func readOnly(_ path: String) -> ServiceError {
        ServiceError(errno: EROFS, message: "\(location(path)): HTTP is read-only")
    }

    public func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        _ = try file(handle)
        throw ServiceError(errno: EBADF, message: "opened read-only")
    }

    public func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        _ = try file(handle)
        throw ServiceError(errno: EBADF, message: "opened read-only")
    }

    public func mkdir(_ path: String, mode: UInt32) throws(ServiceError) { throw readOnly(path) }
    public func rmdir(_ path: String) throws(ServiceError) { throw readOnly(path) }
    public func unlink(_ path: String) throws(ServiceError) { throw readOnly(path) }
    public func rename(_ from: String, to: String) throws(ServiceError) { throw readOnly(from) }
    public func link(_ existing: String, to newPath: String) throws(ServiceError) { throw readOnly(newPath) }
    public func symlink(target: String, at path: String) throws(ServiceError) { throw readOnly(path) }
    public func truncate(_ path: String, length: Int64) throws(ServiceError) { throw readOnly(path) }
    public func chmod(_ path: String, mode: UInt32) throws(ServiceError) { throw readOnly(path) }
    public func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) { throw readOnly(path) }
    public func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) { throw readOnly(path) }
    public func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 { throw readOnly(path) }

    static func hash(_ text: String) -> UInt64 { NameHash.of(text) }
}
