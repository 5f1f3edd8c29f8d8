#if canImport(Glibc)
import Glibc
#endif

/// The translation of one path of the program's view.
public enum Translation: Equatable, Sendable {
    /// This host path; `entry` is the mount entry that decided it (nil: identity).
    case host(String, entry: MountEntry?)
    /// Refused with this errno (DENY: EACCES, ENOENT: ENOENT).
    case refused(Int32)
}

/// The mount list in effect: the longest matching prefix decides; for equal
/// prefixes the later entry wins.
public struct MountTable: Sendable {
    public private(set) var entries: [MountEntry] = []

    public init(_ entries: [MountEntry] = []) {
        for entry in entries { add(entry) }
    }

    public mutating func add(_ entry: MountEntry) {
        entries.removeAll { $0.prefix == entry.prefix }
        entries.append(entry)
        // Longest prefix first, so the first match is the decisive one.
        entries.sort { $0.prefix.utf8.count > $1.prefix.utf8.count }
    }

    /// No entries: every path means what it means on the host.
    public var isTrivial: Bool { entries.isEmpty }

    public func entry(for path: String) -> MountEntry? {
        entries.first { PathName.isWithin(path, $0.prefix) }
    }

    /// Host path for a normalized absolute path of the program's view.
    public func translate(_ path: String) -> Translation {
        guard let entry = entry(for: path) else { return .host(path, entry: nil) }
        switch entry.target {
        case .deny: return .refused(EACCES)
        case .enoent: return .refused(ENOENT)
        case .local: return .host(path, entry: entry)
        case .redirect(let target):
            let rest = path.dropFirst(entry.prefix == "/" ? 0 : entry.prefix.utf8.count)
            if rest.isEmpty || rest == "/" { return .host(target, entry: entry) }
            return .host(target == "/" ? String(rest) : target + rest, entry: entry)
        }
    }

    /// The program's view of a host path (for descriptors and /proc links): the
    /// longest redirect target containing it is mapped back to its prefix.
    public func virtualPath(forHost host: String) -> String {
        var best: (target: String, prefix: String)?
        for entry in entries {
            guard case .redirect(let target) = entry.target, PathName.isWithin(host, target) else { continue }
            if best == nil || target.utf8.count > best!.target.utf8.count { best = (target, entry.prefix) }
        }
        guard let best else { return host }
        let rest = host.dropFirst(best.target == "/" ? 0 : best.target.utf8.count)
        if rest.isEmpty { return best.prefix }
        return best.prefix == "/" ? String(rest) : best.prefix + rest
    }
}
