import ParrotNamespace

/// The entries of one host directory, as far as the planner cares.
public protocol HostDirectoryLister {
    /// Names of the entries of `path` that are not symlinks (a rule on a
    /// symlink's target could reach outside the tree being carved); empty when
    /// `path` is not a readable directory.
    func children(of path: String) -> [String]
}

/// The Landlock rules that enforce a list of host grants, and where the kernel
/// ends up stricter than the policy.
///
/// Landlock only adds rights: a rule on a directory grants beneath it, and a
/// path gets the union of the rules on its ancestors. So a nested grant with
/// fewer rights (`/ rwx` then `/etc rx`, or `/home DENY` under `/ rx`) cannot
/// be a rule of its own. The plan "carves" instead: the outer directory keeps
/// only the rights that every grant beneath it has (its floor), each of its
/// children not on the way to a nested grant gets the outer rights, and the
/// walk goes on down to the nested grant. The kernel then never allows more
/// than the policy; the price is that the directories on the way (and entries
/// created in them later) get only the floor, which the start-up report names.
public struct LandlockPlan: Equatable, Sendable {
    public struct Rule: Equatable, Sendable {
        public let path: String
        public let mode: AccessMode
    }

    /// A directory where the kernel allows less than the policy.
    public struct Narrowing: Equatable, Sendable, CustomStringConvertible {
        public let path: String
        public let policy: AccessMode
        public let kernel: AccessMode
        public let around: [String]
        public var description: String {
            "\(path) itself and new entries directly in it: \(kernel) in the kernel instead of \(policy) "
                + "(carved around \(around.joined(separator: ", ")))"
        }
    }

    public private(set) var rules: [Rule] = []
    public private(set) var narrowings: [Narrowing] = []

    public init(grants: [HostGrant], lister: HostDirectoryLister) {
        let root = grants.first { $0.path == "/" }?.mode ?? []
        visit("/", root, grants.filter { $0.path != "/" }, lister)
    }

    private mutating func visit(_ dir: String, _ mode: AccessMode, _ below: [HostGrant],
                                _ lister: HostDirectoryLister) {
        let restrictive = below.filter { !$0.mode.isSuperset(of: mode) }
        if restrictive.isEmpty {
            add(dir, mode)
            for top in below where !below.contains(where: { $0.path != top.path && Self.isBeneath(top.path, $0.path) }) {
                visit(top.path, top.mode, below.filter { Self.isBeneath($0.path, top.path) }, lister)
            }
            return
        }
        let floor = restrictive.reduce(mode) { $0.intersection($1.mode) }
        add(dir, floor)
        narrowings.append(Narrowing(path: dir, policy: mode, kernel: floor, around: restrictive.map(\.path)))
        for name in lister.children(of: dir) {
            let child = PathName.join(dir, name)
            let inner = below.filter { Self.isBeneath($0.path, child) }
            if let exact = below.first(where: { $0.path == child }) {
                visit(child, exact.mode, inner, lister)
            } else if inner.isEmpty {
                add(child, mode)
            } else {
                visit(child, mode, inner, lister)
            }
        }
        // Grants beneath `dir` that the listing did not reach do not exist
        // (yet): they get nothing, and `dir`'s floor keeps them from being made.
    }

    private mutating func add(_ path: String, _ mode: AccessMode) {
        if !mode.isEmpty { rules.append(Rule(path: path, mode: mode)) }
    }

    /// True when `path` lies strictly beneath `dir`.
    static func isBeneath(_ path: String, _ dir: String) -> Bool {
        path != dir && PathName.isWithin(path, dir)
    }
}
