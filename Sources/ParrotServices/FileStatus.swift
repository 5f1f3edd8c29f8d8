#if canImport(Glibc)
import Glibc
#endif

/// A point in time as stat reports it.
public struct Timestamp: Equatable, Hashable, Sendable {
    public var seconds: Int64
    public var nanoseconds: Int64

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// Every field of `struct stat`, whatever service it came from.
public struct FileStatus: Equatable, Sendable {
    public var dev: UInt64
    public var ino: UInt64
    public var mode: UInt32
    public var nlink: UInt64
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt64
    public var size: Int64
    public var atime: Timestamp
    public var mtime: Timestamp
    public var ctime: Timestamp
    public var blksize: Int64
    public var blocks: Int64
    /// What names this content of the file at the server beyond size and
    /// mtime, when the protocol has it (HTTP's strong ETag); nil otherwise.
    /// The cache takes a copy as valid only while it is unchanged.
    public var version: String? = nil

    public init(dev: UInt64, ino: UInt64, mode: UInt32, nlink: UInt64, uid: UInt32, gid: UInt32,
                rdev: UInt64, size: Int64, atime: Timestamp, mtime: Timestamp, ctime: Timestamp,
                blksize: Int64, blocks: Int64) {
        self.dev = dev
        self.ino = ino
        self.mode = mode
        self.nlink = nlink
        self.uid = uid
        self.gid = gid
        self.rdev = rdev
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.blksize = blksize
        self.blocks = blocks
    }

    public init(_ st: stat) {
        self.init(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), mode: st.st_mode, nlink: UInt64(st.st_nlink),
                  uid: st.st_uid, gid: st.st_gid, rdev: UInt64(st.st_rdev), size: Int64(st.st_size),
                  atime: Timestamp(st.st_atim), mtime: Timestamp(st.st_mtim), ctime: Timestamp(st.st_ctim),
                  blksize: Int64(st.st_blksize), blocks: Int64(st.st_blocks))
    }

    /// st_blocks for a file of `size` bytes where the server does not say:
    /// what a local filesystem with 4 KiB blocks allocates for a file written
    /// whole, so that `ls -s`, `du` and `ls -l`'s total read as they would
    /// on the server's disk.
    public static func allocatedBlocks(forSize size: Int64) -> Int64 {
        (size + 4095) / 4096 * 8
    }

    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isRegularFile: Bool { mode & S_IFMT == S_IFREG }
    public var isSymbolicLink: Bool { mode & S_IFMT == S_IFLNK }
}

/// A file at a server: its device and inode there.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// None for a status without an inode (some servers' listings zero it).
    public init?(_ status: FileStatus) {
        guard status.ino != 0 else { return nil }
        device = status.dev
        inode = status.ino
    }
}

extension Timestamp {
    public init(_ time: timespec) {
        self.init(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }

    public var timespec: Glibc.timespec { Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)) }
}

extension FileStatus {
    /// Gives the local file at `path` these access and modification times
    /// (a copy's fstat then says what stat of the remote name says).
    public func setTimes(of path: String) {
        var times = [atime.timespec, mtime.timespec]
        utimensat(AT_FDCWD, path, &times, 0)
    }
}

/// The fields of `struct statfs` that every service can answer.
public struct FileSystemStatus: Equatable, Sendable {
    public var type: Int64
    public var blockSize: Int64
    public var blocks: Int64
    public var freeBlocks: Int64
    public var availableBlocks: Int64
    public var files: Int64
    public var freeFiles: Int64

    public init(type: Int64, blockSize: Int64, blocks: Int64, freeBlocks: Int64,
                availableBlocks: Int64, files: Int64, freeFiles: Int64) {
        self.type = type
        self.blockSize = blockSize
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.files = files
        self.freeFiles = freeFiles
    }
}

/// One name in a directory, with its lstat when the protocol lists it anyway.
public struct DirectoryEntry: Equatable, Sendable {
    public var name: String
    public var status: FileStatus?

    public init(name: String, status: FileStatus? = nil) {
        self.name = name
        self.status = status
    }
}
