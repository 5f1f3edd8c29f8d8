import NIOCore

/// One reply: the result line, then (on success only) its payload (protocols/chirp.md §4).
struct ChirpReply: Sendable {
    var result: Int64
    var payload: [UInt8] = []

    static let ok = ChirpReply(result: 0)

    init(result: Int64, payload: [UInt8] = []) {
        self.result = result
        self.payload = payload
    }

    init(_ failure: ChirpFailure) {
        result = failure.code
    }

    /// `0\n` followed by text lines, each ending in `\n`.
    init(lines: [String]) {
        result = 0
        payload = Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// The result is the payload's length (pread, readlink, whoami, hash).
    init(counted bytes: [UInt8]) {
        result = Int64(bytes.count)
        payload = bytes
    }

    func encoded(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 24 + payload.count)
        buffer.writeString("\(result)\n")
        if result >= 0 { buffer.writeBytes(payload) }
        return buffer
    }
}
