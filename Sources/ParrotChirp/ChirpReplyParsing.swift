import ParrotServices

/// The text lines of replies: result codes, stat and statfs lines (§4, §5).
/// A line that does not parse means the stream is out of step: the caller
/// treats the connection as broken.
enum ChirpReplyParsing {
    struct Malformed: Error {
        let line: String
    }

    static func result(_ line: String) throws(Malformed) -> Int64 {
        guard let value = Int64(line) else { throw Malformed(line: line) }
        return value
    }

    /// `dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime`
    static func status(_ line: String) throws(Malformed) -> FileStatus {
        let v = try integers(line, count: 13)
        return FileStatus(dev: UInt64(bitPattern: v[0]), ino: UInt64(bitPattern: v[1]),
                          mode: UInt32(truncatingIfNeeded: v[2]), nlink: UInt64(bitPattern: v[3]),
                          uid: UInt32(truncatingIfNeeded: v[4]), gid: UInt32(truncatingIfNeeded: v[5]),
                          rdev: UInt64(bitPattern: v[6]), size: v[7],
                          atime: Timestamp(seconds: v[10]), mtime: Timestamp(seconds: v[11]), ctime: Timestamp(seconds: v[12]),
                          blksize: v[8], blocks: v[9])
    }

    /// `type bsize blocks bfree bavail files ffree` (the wire order, not the docs').
    static func fileSystemStatus(_ line: String) throws(Malformed) -> FileSystemStatus {
        let v = try integers(line, count: 7)
        return FileSystemStatus(type: v[0], blockSize: v[1], blocks: v[2], freeBlocks: v[3],
                                availableBlocks: v[4], files: v[5], freeFiles: v[6])
    }

    private static func integers(_ line: String, count: Int) throws(Malformed) -> [Int64] {
        let values = line.split(separator: " ").compactMap { Int64($0) }
        guard values.count == count, line.split(separator: " ").count == count else { throw Malformed(line: line) }
        return values
    }
}
