import CParrotShim
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's Landlock, and rulesets built for it.
public enum Landlock {
    /// The ABI version, or why there is none.
    public static func probe() -> Result<Int, LandlockUnavailable> {
        let rc = parrot_landlock_abi()
        if rc > 0 { return .success(Int(rc)) }
        switch -rc {
        case ENOSYS: return .failure(LandlockUnavailable(reason: "the kernel has no Landlock (ENOSYS)"))
        case EOPNOTSUPP: return .failure(LandlockUnavailable(reason: "Landlock is built but not enabled at boot (add landlock to lsm=)"))
        default: return .failure(LandlockUnavailable(reason: "landlock_create_ruleset: errno \(-rc)"))
        }
    }

    /// A ruleset fd (close-on-exec) that enforces `plan` and the network rule.
    /// The rule files are opened O_PATH here, in the agent, and closed again:
    /// the forked child only enters the finished ruleset.
    public static func ruleset(for plan: LandlockPlan, abi: Int, denyTCP: Bool,
                               scopeIPC: Bool) throws -> Int32 {
        let handled = LandlockAccess.handled(abi: abi)
        let net = denyTCP && abi >= 4 ? LandlockNetAccess.bindTCP | LandlockNetAccess.connectTCP : 0
        let scoped = scopeIPC && abi >= 6 ? LandlockScope.abstractUnixSocket | LandlockScope.signal : 0
        let fd = parrot_landlock_create(handled.rawValue, net, scoped)
        guard fd >= 0 else { throw SandboxError("landlock_create_ruleset: \(errnoText(-fd))") }
        for rule in plan.rules {
            let target = open(rule.path, Self.pathOnly | O_CLOEXEC | O_NOFOLLOW)
            guard target >= 0 else { continue }  // gone since the walk: nothing to grant
            defer { close(target) }
            var st = stat()
            fstat(target, &st)
            var access = LandlockAccess(mode: rule.mode).intersection(handled)
            if st.st_mode & S_IFMT == S_IFLNK { continue }
            if st.st_mode & S_IFMT != S_IFDIR { access.formIntersection(.fileRights) }
            if access.isEmpty { continue }
            let rc = parrot_landlock_allow_path(fd, target, access.rawValue)
            if rc < 0 {
                close(fd)
                throw SandboxError("landlock_add_rule \(rule.path): \(errnoText(-rc))")
            }
        }
        return fd
    }

    /// Flags for landlock_restrict_self: on ABI 7, denials of the program (after
    /// exec) go to the kernel's audit log; the agent's own child code does not.
    public static func restrictFlags(abi: Int) -> UInt32 {
        abi >= 7 ? LandlockRestrictFlags.logSameExecOff | LandlockRestrictFlags.logNewExecOn : 0
    }

    /// O_PATH, which Glibc's Swift overlay does not export.
    static let pathOnly: Int32 = 0o10000000

    static func errnoText(_ value: Int32) -> String { String(cString: strerror(value)) }
}

public struct LandlockUnavailable: Error, Sendable {
    public let reason: String
}

public struct SandboxError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Lists a real host directory.
public struct RealDirectoryLister: HostDirectoryLister {
    public init() {}

    public func children(of path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = directoryEntryName(entry)
            if name == "." || name == ".." { continue }
            var st = stat()
            if lstat(PathName.join(path, name), &st) == 0, st.st_mode & S_IFMT != S_IFLNK {
                names.append(name)
            }
        }
        return names.sorted()
    }
}
