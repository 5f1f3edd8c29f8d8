import ParrotServices

/// The x86_64 kernel's structures, filled from what a service reported, as
/// bytes to write into the program's memory.
public enum KernelStructs {
    /// `struct stat` (144 bytes).
    public static func stat(_ status: FileStatus) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: statSize)
        bytes.withUnsafeMutableBytes { stat(status, into: $0) }
        return bytes
    }

    public static let statSize = 144

    /// `struct stat` into `bytes` (at least `statSize`), for callers that keep
    /// it on the stack: every array costs the runtime a type lookup.
    public static func stat(_ status: FileStatus, into bytes: UnsafeMutableRawBufferPointer) {
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.store(status.dev, at: 0)
        bytes.store(status.ino, at: 8)
        bytes.store(status.nlink, at: 16)
        bytes.store(status.mode, at: 24)
        bytes.store(status.uid, at: 28)
        bytes.store(status.gid, at: 32)
        bytes.store(status.rdev, at: 40)
        bytes.store(status.size, at: 48)
        bytes.store(status.blksize, at: 56)
        bytes.store(status.blocks, at: 64)
        // Field by field: a loop over (time, offset) pairs builds an array of
        // tuples, whose type the runtime looks up on every call.
        bytes.store(status.atime.seconds, at: 72)
        bytes.store(status.atime.nanoseconds, at: 80)
        bytes.store(status.mtime.seconds, at: 88)
        bytes.store(status.mtime.nanoseconds, at: 96)
        bytes.store(status.ctime.seconds, at: 104)
        bytes.store(status.ctime.nanoseconds, at: 112)
    }

    /// STATX_BASIC_STATS: everything but the birth time, which no protocol reports.
    public static let statxBasicStats: UInt32 = 0x7FF

    /// `struct statx` (256 bytes).
    public static func statx(_ status: FileStatus) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 256)
        bytes.store(statxBasicStats, at: 0)
        bytes.store(UInt32(truncatingIfNeeded: status.blksize), at: 4)
        bytes.store(UInt32(truncatingIfNeeded: status.nlink), at: 16)
        bytes.store(status.uid, at: 20)
        bytes.store(status.gid, at: 24)
        bytes.store(UInt16(truncatingIfNeeded: status.mode), at: 28)
        bytes.store(status.ino, at: 32)
        bytes.store(status.size, at: 40)
        bytes.store(status.blocks, at: 48)
        bytes.store(status.atime.seconds, at: 64)
        bytes.store(UInt32(truncatingIfNeeded: status.atime.nanoseconds), at: 72)
        bytes.store(status.ctime.seconds, at: 96)
        bytes.store(UInt32(truncatingIfNeeded: status.ctime.nanoseconds), at: 104)
        bytes.store(status.mtime.seconds, at: 112)
        bytes.store(UInt32(truncatingIfNeeded: status.mtime.nanoseconds), at: 120)
        bytes.store(major(status.rdev), at: 128)
        bytes.store(minor(status.rdev), at: 132)
        bytes.store(major(status.dev), at: 136)
        bytes.store(minor(status.dev), at: 140)
        return bytes
    }

    /// `struct statfs` (120 bytes).
    public static func statfs(_ status: FileSystemStatus, nameLength: Int64 = 255) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 120)
        let fields: [Int64] = [status.type, status.blockSize, status.blocks, status.freeBlocks,
                               status.availableBlocks, status.files, status.freeFiles]
        for (index, value) in fields.enumerated() { bytes.store(value, at: index * 8) }
        bytes.store(nameLength, at: 64)
        bytes.store(status.blockSize, at: 72)
        return bytes
    }

    /// One `struct linux_dirent64` record, padded to 8 bytes.
    public static func dirent64(name: String, inode: UInt64, nextOffset: Int64, type: UInt8) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        let length = (19 + nameBytes.count + 1 + 7) & ~7
        var bytes = [UInt8](repeating: 0, count: length)
        bytes.store(inode, at: 0)
        bytes.store(nextOffset, at: 8)
        bytes.store(UInt16(length), at: 16)
        bytes[18] = type
        bytes.replaceSubrange(19..<(19 + nameBytes.count), with: nameBytes)
        return bytes
    }

    /// d_type for a st_mode.
    public static func directoryEntryType(mode: UInt32?) -> UInt8 {
        guard let mode else { return 0 }  // DT_UNKNOWN: the program asks stat
        return UInt8((mode >> 12) & 0xF)  // DT_* are the S_IFMT bits shifted down
    }

    static func major(_ dev: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF))
    }

    static func minor(_ dev: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: (dev & 0xFF) | ((dev >> 12) & ~0xFF))
    }
}

extension Array where Element == UInt8 {
    /// Stores `value` little-endian at `offset`.
    mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}

extension UnsafeMutableRawBufferPointer {
    func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}
