/// Lexical operations on absolute path strings.
public enum PathName {
    /// Collapses "//", "." and ".." lexically; the result is absolute, without a
    /// trailing slash (except "/"). Only for paths that name no symlinks (prefixes).
    public static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// True when `path` is `prefix` or lies under it (component-wise).
    @inline(__always)
    public static func isWithin(_ path: String, _ prefix: String) -> Bool {
        if prefix == "/" { return true }
        guard path.hasPrefix(prefix) else { return false }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// Where `path` is after `from` was renamed to `to`: `to` itself, or the
    /// same place under it; nil when `path` is neither `from` nor under it.
    /// Trailing slashes do not count.
    public static func moved(_ path: String, from: String, to: String) -> String? {
        let (path, from, to) = (trimmed(path), trimmed(from), trimmed(to))
        guard isWithin(path, from) else { return nil }
        let rest = path.dropFirst(from.count).drop { $0 == "/" }
        return rest.isEmpty ? to : join(to, String(rest))
    }

    /// `path` without trailing slashes ("/" stays).
    public static func trimmed(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }

    /// The parent directory and last component of an absolute path; nil
    /// for "/" (trailing slashes do not count).
    public static func split(_ path: String) -> (directory: String, name: Substring)? {
        let path = trimmed(path)
        guard path != "/", let slash = path.lastIndex(of: "/") else { return nil }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        return (directory, path[path.index(after: slash)...])
    }

    public static func join(_ base: String, _ relative: String) -> String {
        if relative.isEmpty { return base }
        return base == "/" ? "/" + relative : base + "/" + relative
    }
}
