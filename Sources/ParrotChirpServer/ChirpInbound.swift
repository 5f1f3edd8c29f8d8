import NIOCore

/// The bytes a client sends, read as the protocol needs them: request lines,
/// or an exact number of raw bytes (protocols/chirp.md §1, §7).
struct ChirpInbound {
    /// The reference server's line buffer is 1024 bytes with the NUL: a longer
    /// request closes the connection.
    static let maxLineLength = 1023

    struct LineTooLong: Error {}

    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()

    init(_ stream: NIOAsyncChannelInboundStream<ByteBuffer>) {
        iterator = stream.makeAsyncIterator()
    }

    /// The next line without `\n` and `\r`s; nil when the client has closed.
    mutating func line() async throws -> String? {
        while true {
            if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - buffer.readerIndex
                guard length <= ChirpInbound.maxLineLength else { throw LineTooLong() }
                let bytes = buffer.readBytes(length: length)!
                buffer.moveReaderIndex(forwardBy: 1)
                return String(decoding: bytes.filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
            }
            guard buffer.readableBytes <= ChirpInbound.maxLineLength else { throw LineTooLong() }
            guard try await fill() else { return nil }
        }
    }

    /// Between 1 and `limit` of the next raw bytes; nil when the client has closed.
    mutating func bytes(upTo limit: Int) async throws -> ByteBuffer? {
        if buffer.readableBytes == 0 {
            guard try await fill() else { return nil }
        }
        return buffer.readSlice(length: min(limit, buffer.readableBytes))
    }

    /// Exactly the next `count` raw bytes, in the pieces they arrived in;
    /// nil when the client has closed first. Bodies are taken this way so a
    /// megabyte costs one hop to the file I/O threads, not one per read.
    mutating func bytes(exactly count: Int) async throws -> [ByteBuffer]? {
        var pieces: [ByteBuffer] = []
        var left = count
        while left > 0 {
            guard let piece = try await bytes(upTo: left) else { return nil }
            left -= piece.readableBytes
            pieces.append(piece)
        }
        return pieces
    }

    /// Reads and drops `count` bytes; false if the client closed first.
    mutating func discard(_ count: Int64) async throws -> Bool {
        var left = count
        while left > 0 {
            guard let chunk = try await bytes(upTo: Int(min(left, 1 << 20))) else { return false }
            left -= Int64(chunk.readableBytes)
        }
        return true
    }

    private mutating func fill() async throws -> Bool {
        guard var next = try await iterator.next() else { return false }
        if buffer.readableBytes == 0 {
            buffer = next
        } else {
            buffer.discardReadBytes()
            buffer.writeBuffer(&next)
        }
        return true
    }
}
