#if canImport(Glibc)
import Glibc
#endif
import ParrotNamespace

/// What the policy allows beneath one host path: the mount list turned from the
/// program's view into host objects, which is what the kernel checks.
public struct HostGrant: Equatable, Sendable, CustomStringConvertible {
    /// Absolute host path with symlinks resolved where it exists (Landlock
    /// rules hold inodes, and the tree walk sees real names).
    public let path: String
    /// Empty: nothing (DENY, ENOENT, or no entry at all).
    public let mode: AccessMode
    /// The mount entry it comes from, for messages.
    public let origin: String

    public init(path: String, mode: AccessMode, origin: String) {
        self.path = path
        self.mode = mode
        self.origin = origin
    }

    public var description: String { "\(path) \(mode)" }

    /// One grant per entry of `table`. A redirect grants its target (the host
    /// path the agent rewrites to); DENY and ENOENT take away what the next
    /// shorter entry would have granted at the same host path. Two entries that
    /// reach one host path grant the union: the kernel sees objects, not names,
    /// and the tracer still checks each name of the program's view.
    public static func grants(for table: MountTable) -> [HostGrant] {
        var byPath: [String: HostGrant] = [:]
        for entry in table.entries {
            let host: String?
            switch entry.target {
            case .redirect(let target): host = target
            case .local: host = entry.prefix
            case .deny, .enoent:
                var rest = MountTable(table.entries.filter { $0.prefix != entry.prefix })
                rest.add(MountEntry(prefix: "/", target: .local, mode: [], origin: "sandbox default"))
                if case .host(let path, _) = rest.translate(entry.prefix) { host = path } else { host = nil }
            }
            guard let host else { continue }
            let mode: AccessMode = [.deny, .enoent].contains(entry.target) ? [] : entry.mode
            let path = realPath(host)
            if let other = byPath[path] {
                byPath[path] = HostGrant(path: path, mode: other.mode.union(mode), origin: other.origin + ", " + entry.origin)
            } else {
                byPath[path] = HostGrant(path: path, mode: mode, origin: entry.origin)
            }
        }
        return byPath.values.sorted { $0.path < $1.path }
    }

    /// The path with symlinks resolved, or as given when it does not exist.
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return PathName.normalize(path) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
