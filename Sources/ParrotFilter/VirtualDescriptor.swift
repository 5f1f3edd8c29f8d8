/// Virtual descriptors are numbered from here; the kernel never hands out such
/// numbers (its limit is far below), so the filter can trap exactly these.
public enum VirtualDescriptor {
    public static let base: Int32 = 1 << 30
    /// The fd bits the filter looks at, and the value that marks a virtual fd:
    /// (fd & mask) == tag  <=>  base <= fd < 2^31, whatever the upper half holds.
    static let mask: UInt64 = 0xC000_0000
    static let tag: UInt64 = 0x4000_0000
    /// The other three values of (fd & mask): native descriptors and negative specials.
    static let nativeTags: [UInt64] = [0, 0x8000_0000, 0xC000_0000]

    /// Whether a descriptor argument, as the filter sees it, is virtual.
    public static func isVirtual(_ argument: UInt64) -> Bool { argument & mask == tag }
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
