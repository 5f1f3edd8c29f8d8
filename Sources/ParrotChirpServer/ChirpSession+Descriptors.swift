import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// open, close and the calls on open files (protocols/chirp.md §6.1).
extension ChirpSession {
    /// `fd` and the file's stat line.
    mutating func open(_ r: ChirpRequestLine) async throws {
        try r.expect(3)
        let path = try r.path(0), letters = try r.word(1), mode = try r.integer(2)
        let fs = context.fileSystem, who = subject
        let (fd, statLine) = try await blockingResult { () throws(ChirpFailure) in
            try fs.open(path, letters: letters, mode: mode, who)
        }.get()
        let chirpFD = try files.add(fd)
        try await reply(ChirpReply(result: chirpFD, payload: Array((statLine + "\n").utf8)))
    }

    mutating func descriptorOperation(_ r: ChirpRequestLine) async throws {
        let command = r.command
        try r.expect(["ftruncate": 2, "fchmod": 2, "fchown": 3][command] ?? 1)
        let chirpFD = try r.integer(0)
        let argument = r.arguments.count > 1 ? try r.integer(1) : 0
        if command == "fchown" { _ = try r.integer(2) }
        let fd = command == "close" ? try files.remove(chirpFD) : try files.descriptor(chirpFD)
        try await reply(try await blocking { () throws(ChirpFailure) -> ChirpReply in
            switch command {
            case "close": try posixCall { close(fd) }
            case "fstat": return try ChirpFileSystem.fstat(fd)
            case "fstatfs": return try ChirpFileSystem.fstatfs(fd)
            case "fsync": try posixCall { fsync(fd) }
            case "ftruncate": try posixCall { ftruncate(fd, off_t(argument)) }
            case "fchmod": try posixCall { fchmod(fd, ChirpFileSystem.permissions(argument)) }
            default: _ = try ChirpRoot.status(fd)  // fchown: accepted and ignored, like chown
            }
            return .ok
        })
    }

    /// `N` and N bytes; at most 16 MiB at once, 0 at the end of the file.
    func pread(_ r: ChirpRequestLine) async throws {
        try r.expect(3)
        let chirpFD = try r.integer(0), length = try r.integer(1), offset = try r.integer(2)
        guard length >= 0 else { throw ChirpFailure(EINVAL) }  // before the descriptor, as the reference server
        let fd = try files.descriptor(chirpFD)
        let count = Int(min(length, Int64(ChirpSession.maxTransfer)))
        let bytes = try await blockingResult { () throws(ChirpFailure) in
            try ChirpFileSystem.pread(fd, length: count, offset: offset, allocator: ByteBufferAllocator())
        }.get()
        try await outbound.write(contentsOf: [ByteBuffer(string: "\(bytes.readableBytes)\n"), bytes])
    }

    /// The LEN raw bytes follow the request with no go-ahead, so they are read
    /// whatever the outcome. Beyond 16 MiB they are read and dropped, as the
    /// reference server does; the reply says how many were written.
    mutating func pwrite(_ r: ChirpRequestLine) async throws {
        try r.expect(3)
        let chirpFD = try r.integer(0), length = try r.integer(1), offset = try r.integer(2)
        guard length >= 0 else { throw ChirpFailure(EINVAL) }  // no payload can be expected
        let kept = min(length, Int64(ChirpSession.maxTransfer))
        var failure: ChirpFailure?
        do {
            let fd = try files.descriptor(chirpFD)
            guard offset >= 0 else { throw ChirpFailure(EINVAL) }
            failure = try await receive(kept, into: fd, at: offset)
        } catch let error as ChirpFailure {
            failure = error
            try await soak(kept)
        }
        try await soak(length - kept)
        try await reply(failure.map { ChirpReply($0) } ?? ChirpReply(result: kept))
    }

    /// Reads `count` bytes from the client into `fd` at `offset`. After a write
    /// fails the rest is read and dropped; the first failure is returned.
    mutating func receive(_ count: Int64, into fd: Int32, at offset: Int64) async throws -> ChirpFailure? {
        var done: Int64 = 0
        var failure: ChirpFailure?
        while done < count {
            let length = Int(min(count - done, Int64(ChirpSession.chunkSize)))
            guard let pieces = try await inbound.bytes(exactly: length) else {
                throw ChirpConnectionBroken(reason: "the client left before sending \(count) bytes")
            }
            if failure == nil {
                let at = offset + done
                if case .failure(let error) = try await blockingResult({ () throws(ChirpFailure) in
                    var next = at
                    for piece in pieces {
                        try ChirpFileSystem.pwrite(fd, piece, offset: next)
                        next += Int64(piece.readableBytes)
                    }
                }) {
                    failure = error
                }
            }
            done += Int64(length)
        }
        return failure
    }

    mutating func soak(_ count: Int64) async throws {
        guard try await inbound.discard(count) else { throw ChirpConnectionBroken(reason: "the client left during a payload") }
    }
}
