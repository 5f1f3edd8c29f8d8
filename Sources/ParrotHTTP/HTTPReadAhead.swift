/// Read-ahead for one open file streamed with ranged GETs: each request costs
/// a round trip, so a program reading a file in order gets ever larger ranges
/// (doubling up to `maximum`, as the kernel's read-ahead grows its window),
/// and what it has not asked for yet is kept for its next reads. A read
/// elsewhere starts again from the size it asked for, so random access
/// fetches no more than it needs.
struct HTTPReadAhead {
    static let maximum = 8 << 20

    /// Bytes fetched from `start` on and not yet read.
    private(set) var start: Int64 = 0
    private(set) var bytes: [UInt8] = []
    /// Where the last read ended: a read from there is sequential.
    private var expected: Int64 = -1
    private var window = 0

    /// Copies what is kept for `offset` into `buffer`; the count copied.
    mutating func take(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) -> Int {
        guard offset >= start, offset < start + Int64(bytes.count) else { return 0 }
        let from = Int(offset - start)
        let count = min(buffer.count, bytes.count - from)
        bytes.withUnsafeBytes { kept in
            buffer.baseAddress!.copyMemory(from: kept.baseAddress! + from, byteCount: count)
        }
        return count
    }

    /// How many bytes to ask for when a read of `count` bytes at `offset`
    /// is not (or not all) kept.
    mutating func requestSize(at offset: Int64, count: Int) -> Int {
        window = offset == expected ? min(max(window * 2, count), Self.maximum) : count
        return max(window, count)
    }

    /// What a request fetched from `offset`, of which the read took `used`.
    mutating func keep(_ fetched: UnsafeRawBufferPointer, from offset: Int64, used: Int) {
        start = offset + Int64(used)
        bytes = used < fetched.count ? Array(fetched[used...]) : []
    }

    /// The read ended at `end`.
    mutating func read(endingAt end: Int64) { expected = end }
}
