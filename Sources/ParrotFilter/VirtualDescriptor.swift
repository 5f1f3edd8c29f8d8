#if canImport(Glibc)
import Glibc
#endif

/// Virtual descriptors are numbered from `base` up to `end`, where no real
/// descriptor can be: the filter traps exactly these.
public enum VirtualDescriptor {
    /// The least power of two, at least 2^16, that the hard RLIMIT_NOFILE
    /// does not pass (only a privileged process can raise that, and the
    /// agent refuses it past here): real descriptors stay below. Kept low
    /// because programs take descriptor numbers for sizes and kinds: bash
    /// sizes a table by the number of a descriptor it reads (8 GiB at 2^30),
    /// and GNU tar and cpio take 2^30 and up for remote tapes.
    public static let base: Int32 = {
        var limit = rlimit()
        let hard = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? UInt64(limit.rlim_max) : UInt64.max
        var base: UInt64 = 1 << 16
        while base < hard && base < 1 << 30 { base <<= 1 }
        return Int32(base)
    }()
    /// One past the last virtual number.
    public static var end: Int64 { 2 * Int64(base) }

    /// On the argument's low 32 bits, as the kernel reads an int, whatever the
    /// upper half holds (C passes -1 sign-extended, the loader's mmap
    /// zero-extended): (argument & mask) == tag  <=>  base <= fd < end, and
    /// == 0  <=>  0 <= fd < base.
    static var mask: UInt64 { 0xFFFF_FFFF & ~(UInt64(base) - 1) }
    static var tag: UInt64 { UInt64(base) }
    /// A negative int (AT_FDCWD, -1): its sign bit.
    static let negative: UInt64 = 0x8000_0000

    /// Whether a descriptor argument, as the filter sees it, is virtual.
    public static func isVirtual(_ argument: UInt64) -> Bool { argument & mask == tag }
    /// Whether a descriptor number (the argument's low half, as the kernel reads it) is virtual.
    public static func isVirtual(_ fd: Int32) -> Bool { fd >= base && Int64(fd) < end }
}

/// SECCOMP_RET_DATA values that tell the tracer why a call stopped.
public enum TrapReason: UInt32, Sendable {
    case classified = 1
    /// A stacked filter's trap: close of a descriptor on a cached copy being written.
    case watchedClose = 2
    /// A stacked filter's trap: sendmsg or sendmmsg of a process that holds a virtual descriptor.
    case watchedSend = 3
    /// Marks answer-vfd returns while compiling; the compiled program says
    /// notify or trap (classified) instead, so no stop ever carries it.
    case answered = 4
    case foreignABI = 0xFFFE
    case unclassified = 0xFFFF
}
