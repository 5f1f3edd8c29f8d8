#if canImport(Glibc)
import Glibc
#endif

/// Remembers what host paths are (directory, symlink and its target, other) so
/// that resolving a path does not lstat every component on every call. Only
/// existing paths are remembered. The agent clears it whenever the program
/// renames, removes or (un)mounts anything; changes by processes outside the
/// agent are picked up when an entry expires.
public final class HostFileCache: HostFileSystem {
    struct Entry {
        let kind: HostFileKind
        let link: String?
        let expires: Int64
    }

    let base: HostFileSystem
    let lifetimeNanoseconds: Int64
    var entries: [String: Entry] = [:]
    static let capacity = 65536

    public init(base: HostFileSystem = RealHostFileSystem(), lifetimeMilliseconds: Int64 = 1000) {
        self.base = base
        self.lifetimeNanoseconds = lifetimeMilliseconds * 1_000_000
    }

    public func invalidate() {
        entries.removeAll(keepingCapacity: true)
    }

    public func kind(ofHostPath path: String) -> HostFileKind? {
        entry(path)?.kind
    }

    public func readLink(hostPath path: String) -> String? {
        entry(path)?.link
    }

    private func entry(_ path: String) -> Entry? {
        let now = Self.now()
        if let cached = entries[path], cached.expires > now { return cached }
        guard let kind = base.kind(ofHostPath: path) else {
            entries.removeValue(forKey: path)
            return nil
        }
        let link = kind == .symlink ? base.readLink(hostPath: path) : nil
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        let fresh = Entry(kind: kind, link: link, expires: now + lifetimeNanoseconds)
        entries[path] = fresh
        return fresh
    }

    private static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
