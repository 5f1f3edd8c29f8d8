import ParrotNamespace

/// Landlock filesystem access rights (the kernel's LANDLOCK_ACCESS_FS_* bits).
public struct LandlockAccess: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let execute = LandlockAccess(rawValue: 1 << 0)
    public static let writeFile = LandlockAccess(rawValue: 1 << 1)
    public static let readFile = LandlockAccess(rawValue: 1 << 2)
    public static let readDir = LandlockAccess(rawValue: 1 << 3)
    public static let removeDir = LandlockAccess(rawValue: 1 << 4)
    public static let removeFile = LandlockAccess(rawValue: 1 << 5)
    public static let makeChar = LandlockAccess(rawValue: 1 << 6)
    public static let makeDir = LandlockAccess(rawValue: 1 << 7)
    public static let makeReg = LandlockAccess(rawValue: 1 << 8)
    public static let makeSock = LandlockAccess(rawValue: 1 << 9)
    public static let makeFifo = LandlockAccess(rawValue: 1 << 10)
    public static let makeBlock = LandlockAccess(rawValue: 1 << 11)
    public static let makeSym = LandlockAccess(rawValue: 1 << 12)
    /// ABI 2: link or rename into another directory.
    public static let refer = LandlockAccess(rawValue: 1 << 13)
    /// ABI 3.
    public static let truncate = LandlockAccess(rawValue: 1 << 14)
    /// ABI 5: ioctl on device files.
    public static let ioctlDev = LandlockAccess(rawValue: 1 << 15)

    /// The rights that make sense on a file (the kernel rejects the others there).
    public static let fileRights: LandlockAccess = [.execute, .writeFile, .readFile, .truncate, .ioctlDev]

    /// Everything the sandbox makes the kernel check, on a kernel of `abi`.
    /// Device nodes (MAKE_CHAR, MAKE_BLOCK) are handled and never granted: a
    /// sandboxed root could otherwise make a node for the raw disk.
    public static func handled(abi: Int) -> LandlockAccess {
        var rights = LandlockAccess(rawValue: (1 << 13) - 1)
        if abi >= 2 { rights.insert(.refer) }
        if abi >= 3 { rights.insert(.truncate) }
        if abi >= 5 { rights.insert(.ioctlDev) }
        return rights
    }

    /// What one of Parrot's mode letters grants.
    public init(mode: AccessMode) {
        var rights: LandlockAccess = []
        if mode.contains(.read) { rights.formUnion([.readFile, .readDir]) }
        if mode.contains(.write) {
            rights.formUnion([.writeFile, .removeDir, .removeFile, .makeDir, .makeReg, .makeSock,
                              .makeFifo, .makeSym, .refer, .truncate, .ioctlDev])
        }
        if mode.contains(.execute) { rights.insert(.execute) }
        self = rights
    }
}

/// Landlock network rights (ABI 4): TCP only, by port, never by address.
public enum LandlockNetAccess {
    public static let bindTCP: UInt64 = 1 << 0
    public static let connectTCP: UInt64 = 1 << 1
}

/// Landlock scopes (ABI 6): IPC that may not leave the sandbox's domain.
public enum LandlockScope {
    public static let abstractUnixSocket: UInt64 = 1 << 0
    public static let signal: UInt64 = 1 << 1
}

/// landlock_restrict_self flags (ABI 7): audit logging of denials.
public enum LandlockRestrictFlags {
    public static let logSameExecOff: UInt32 = 1 << 0
    public static let logNewExecOn: UInt32 = 1 << 1
}
