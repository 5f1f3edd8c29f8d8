import ParrotServices

/// The text lines of replies: result codes, stat and statfs lines (§4, §5).
/// A line that does not parse means the stream is out of step: the caller
/// treats the connection as broken.
enum ChirpReplyParsing {
    struct Malformed: Error {
        let line: String
    }

    static func result(_ line: String) throws(Malformed) -> Int64 {
        try integers(line, count: 1)[0]
    }

    /// `dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime`
    static func status(_ line: String) throws(Malformed) -> FileStatus {
        status(try integers(line, count: 13))
    }

    /// `type bsize blocks bfree bavail files ffree` (the wire order, not the docs').
    static func fileSystemStatus(_ line: String) throws(Malformed) -> FileSystemStatus {
        fileSystemStatus(try integers(line, count: 7))
    }

    private static func integers(_ line: String, count: Int) throws(Malformed) -> [Int64] {
        var line = line
        guard let values = line.withUTF8({ integers(UnsafeRawBufferPointer($0), count: count) }) else { throw Malformed(line: line) }
        return values
    }

    /// Exactly `count` decimal integers separated by single spaces; nil otherwise.
    static func integers(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Int64]? {
        var values: [Int64] = []
        values.reserveCapacity(count)
        return scan(bytes, count: count) { values.append($0) } ? values : nil
    }

    /// A result line: exactly one integer (no array made: one per request).
    static func integer(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var value: Int64 = 0
        return scan(bytes, count: 1) { value = $0 } ? value : nil
    }

    /// Hands each of exactly `count` integers to `take`; false when the line
    /// is anything else.
    static func scan(_ bytes: UnsafeRawBufferPointer, count: Int, _ take: (Int64) -> Void) -> Bool {
        var index = 0
        var taken = 0
        while index < bytes.count || taken < count {
            guard index < bytes.count else { return false }
            if taken > 0 {
                guard bytes[index] == UInt8(ascii: " ") else { return false }
                index += 1
            }
            var negative = false
            if index < bytes.count && bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
            var value: Int64 = 0
            let first = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1 && !overflow2 else { return false }
                value = sum
                index += 1
            }
            guard index > first, taken < count else { return false }
            take(negative ? -value : value)
            taken += 1
        }
        return true
    }

    static func status<Values: RandomAccessCollection<Int64>>(_ v: Values) -> FileStatus where Values.Index == Int {
        FileStatus(dev: UInt64(bitPattern: v[0]), ino: UInt64(bitPattern: v[1]),
                   mode: UInt32(truncatingIfNeeded: v[2]), nlink: UInt64(bitPattern: v[3]),
                   uid: UInt32(truncatingIfNeeded: v[4]), gid: UInt32(truncatingIfNeeded: v[5]),
                   rdev: UInt64(bitPattern: v[6]), size: v[7],
                   atime: Timestamp(seconds: v[10]), mtime: Timestamp(seconds: v[11]), ctime: Timestamp(seconds: v[12]),
                   blksize: v[8], blocks: v[9])
    }

    static func fileSystemStatus(_ v: [Int64]) -> FileSystemStatus {
        FileSystemStatus(type: v[0], blockSize: v[1], blocks: v[2], freeBlocks: v[3],
                         availableBlocks: v[4], files: v[5], freeFiles: v[6])
    }
}
