#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// Replies that stream: directory listings and whole files.
extension ChirpFileService {
    /// getlongdir (names with their lstat); getdir for a server without it.
    /// Names come unescaped, one a line, and the list ends with an empty line.
    public func readdir(_ path: String) throws(ServiceError) -> [DirectoryEntry] {
        let long = try ChirpRequest.getlongdir(path), short = try ChirpRequest.getdir(path)
        do throws(ServiceError) {
            return try list(long) { (connection, name) throws(ServiceError) in
                DirectoryEntry(name: name, status: try connection.readStatus())
            }
        } catch where error.errno == EINVAL {
            return try list(short) { (_, name) throws(ServiceError) in DirectoryEntry(name: name) }
        }
    }

    private func list(_ request: ChirpRequest,
                      _ entry: (ChirpConnection, String) throws(ServiceError) -> DirectoryEntry) throws(ServiceError) -> [DirectoryEntry] {
        try session.perform(request.line, idempotent: true) { (connection, _) throws(ServiceError) in
            try connection.call(request)
            var entries: [DirectoryEntry] = []
            while case let name = try connection.channel.readLine(), !name.isEmpty {
                entries.append(try entry(connection, name))
            }
            // More after the end: a name held a line break, and the stream is out of step.
            if connection.channel.hasBufferedBytes {
                throw connection.channel.fail(EPROTO, "\(request.line): a listed name holds a line break")
            }
            return entries
        }
    }

    /// getfile: the size, then exactly that many bytes, written to `localPath`
    /// (opened only once the server has said yes). A local error does not
    /// break the connection: the rest is read and dropped, then it is thrown.
    public func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        let request = try ChirpRequest.getfile(path)
        return try session.perform(request.line, idempotent: true) { (connection, _) throws(ServiceError) in
            let size = try connection.call(request)
            var local: LocalDescriptor?
            var localError: ServiceError?
            do throws(ServiceError) {
                local = try LocalDescriptor.open(localPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            } catch {
                localError = error
            }
            defer { local?.close() }
            try receive(size, from: connection) { (chunk) in
                guard let local, localError == nil else { return }
                do throws(ServiceError) { try local.writeAll(chunk) } catch { localError = error }
            }
            if let localError { throw localError }
            return size
        }
    }

    /// putfile: announce the size, wait for the go-ahead, send exactly that
    /// many bytes, read the stored count.
    public func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        try session.perform("putfile \(path)", idempotent: true) { (connection, _) throws(ServiceError) in
            let local = try LocalDescriptor.open(localPath, flags: O_RDONLY, mode: 0)
            defer { local.close() }
            let size = try local.status().size
            let request = try ChirpRequest.putfile(path, mode: mode, length: size)
            try connection.call(request)
            let shortfall = try send(size, from: local, to: connection)
            let stored = try connection.result(of: request)
            if let shortfall {
                // The promised bytes were padded to keep the stream in step: drop the result.
                _ = try? connection.call(.unlink(path))
                throw shortfall
            }
            return stored
        }
    }

    /// `hash ALG PATH`: the digest is computed by the server, next to the data.
    public func checksum(_ path: String, algorithm: ChecksumAlgorithm) throws(ServiceError) -> [UInt8] {
        let request = try ChirpRequest.hash(algorithm, path)
        return try session.perform(request.line, idempotent: true) { (connection, _) throws(ServiceError) in
            try connection.callForBytes(request, limit: 64)
        }
    }

    private static let chunkSize = 1 << 20

    private func receive(_ size: Int64, from connection: ChirpConnection,
                         _ consume: (UnsafeRawBufferPointer) -> Void) throws(ServiceError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var left = size
        while left > 0 {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(left, Int64(Self.chunkSize)))])
            try connection.channel.readExactly(into: chunk)
            consume(UnsafeRawBufferPointer(chunk))
            left -= Int64(chunk.count)
        }
    }

    /// Sends `size` bytes of `local`, from the page cache where it can; if the
    /// file ends or fails early, pads with zeros and returns the error to
    /// report once the server has answered.
    private func send(_ size: Int64, from local: LocalDescriptor, to connection: ChirpConnection) throws(ServiceError) -> ServiceError? {
        var left = size
        while left > 0, let sent = try connection.channel.sendFile(local.fd, count: Int(min(left, Int64(Self.chunkSize)))) {
            if sent == 0 { break }  // ended early: the loop below says so
            left -= Int64(sent)
        }
        guard left > 0 else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var failure: ServiceError?
        while left > 0 {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(left, Int64(Self.chunkSize)))])
            var count = 0
            if failure == nil {
                do throws(ServiceError) {
                    count = try local.read(into: chunk)
                    if count == 0 { failure = ServiceError(errno: EIO, message: "putfile: local file shrank while being sent") }
                } catch {
                    failure = error
                }
            }
            if failure != nil {
                count = chunk.count
                chunk.initializeMemory(as: UInt8.self, repeating: 0)
            }
            try connection.channel.send(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
            left -= Int64(count)
        }
        return failure
    }
}
