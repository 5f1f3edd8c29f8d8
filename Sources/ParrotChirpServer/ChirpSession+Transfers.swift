import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file transfers (protocols/chirp.md §6.3), streamed in chunks so a
/// large file never sits in memory.
extension ChirpSession {
    static let chunkSize = 1 << 20

    /// `LEN` then exactly LEN bytes. A file that shrinks meanwhile cannot keep
    /// that promise: the connection is closed, which the client sees at once.
    func getfile(_ r: ChirpRequestLine) async throws {
        try r.expect(1)
        let path = try r.path(0), fs = context.fileSystem, who = subject
        let (fd, size) = try await blockingResult { () throws(ChirpFailure) in try fs.openForGet(path, who) }.get()
        defer { close(fd) }
        try await outbound.write(ByteBuffer(string: "\(size)\n"))
        var offset: Int64 = 0
        while offset < size {
            let count = Int(min(size - offset, Int64(ChirpSession.chunkSize))), at = offset
            let chunk = try await blockingResult { () throws(ChirpFailure) in
                try ChirpFileSystem.pread(fd, length: count, offset: at, allocator: ByteBufferAllocator())
            }
            guard case .success(let bytes) = chunk, bytes.readableBytes > 0 else {
                throw ChirpConnectionBroken(reason: "getfile \(path): the file changed while being sent")
            }
            try await outbound.write(bytes)
            offset += Int64(bytes.readableBytes)
        }
    }

    /// `0` (go ahead), then the client's LEN bytes, then `LEN`. On a failure
    /// midway the rest is read and dropped and no partial file is left.
    mutating func putfile(_ r: ChirpRequestLine) async throws {
        try r.expect(3)
        let path = try r.path(0), mode = try r.integer(1), length = try r.integer(2)
        let fs = context.fileSystem, who = subject
        let fd = try await blockingResult { () throws(ChirpFailure) in
            try fs.openForPut(path, mode: mode, length: length, who)
        }.get()
        var failure: ChirpFailure?
        do {
            try await outbound.write(ByteBuffer(string: "0\n"))
            failure = try await receive(length, into: fd, at: 0)
        } catch {
            close(fd)
            fs.removePartial(path)
            throw error
        }
        if close(fd) != 0, failure == nil { failure = ChirpFailure.last }
        if let failure {
            _ = try await blockingResult { () throws(ChirpFailure) in fs.removePartial(path) }
            throw failure
        }
        try await reply(ChirpReply(result: length))
    }
}
