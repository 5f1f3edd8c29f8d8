import ParrotNamespace
#if canImport(Glibc)
import Glibc
#endif

/// One sandboxed run: the policy (mount-list modes plus the network rule), the
/// Landlock ruleset that enforces it in the kernel where it can, and the report
/// of which guarantees hold on this kernel.
public struct Sandbox {
    /// The mount table the tracer enforces: the user's, plus what the sandbox
    /// adds (below).
    public let table: MountTable
    public let network: NetworkRule
    public let plan: LandlockPlan
    /// The Landlock ABI in use, or why there is none (or `--no-landlock`).
    public let landlock: Result<Int, LandlockUnavailable>

    /// Device files that almost every program opens (`> /dev/null`, random
    /// numbers, the controlling terminal). They get rwx rather than rw so that
    /// they never narrow an `rx` tree above them.
    public static let implicitDevices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                         "/dev/urandom", "/dev/tty"]

    /// - Parameter useLandlock: false runs the tracer-only sandbox (for
    ///   comparison; every decision can then be raced).
    public init(mounts: MountTable, network: NetworkRule, useLandlock: Bool = true,
                lister: HostDirectoryLister = RealDirectoryLister()) {
        var table = MountTable()
        // Outside every entry nothing is allowed but looking (stat, path walks):
        // the sandbox is an allow-list, like Landlock.
        table.add(MountEntry(prefix: "/", target: .local, mode: [], origin: "sandbox default"))
        for device in Self.implicitDevices {
            table.add(MountEntry(prefix: device, target: .local, mode: .all, origin: "sandbox device"))
        }
        for entry in mounts.entries { table.add(entry) }
        self.table = table
        self.network = network
        self.landlock = useLandlock
            ? Landlock.probe() : .failure(LandlockUnavailable(reason: "--no-landlock was given"))
        self.plan = LandlockPlan(grants: HostGrant.grants(for: table), lister: lister)
    }

    /// Policy overlays for the filter (filters/NAME.policy).
    public var overlays: [String] {
        ["sandbox"] + (isPlain ? ["sandbox-plain"] : []) + (network.overlay.map { [$0] } ?? [])
    }

    /// No entry redirects: the program's view is the host's.
    public var isPlain: Bool {
        table.entries.allSatisfy { if case .redirect = $0.target { return false } else { return true } }
    }

    /// The ruleset fd for the child to enter, or -1 without Landlock.
    public func makeRuleset() throws -> Int32 {
        guard case .success(let abi) = landlock else { return -1 }
        return try Landlock.ruleset(for: plan, abi: abi, denyTCP: network == .none, scopeIPC: true)
    }

    public var restrictFlags: UInt32 {
        guard case .success(let abi) = landlock else { return 0 }
        return Landlock.restrictFlags(abi: abi)
    }
}
