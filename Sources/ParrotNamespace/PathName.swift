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

    public static func join(_ base: String, _ relative: String) -> String {
        if relative.isEmpty { return base }
        return base == "/" ? "/" + relative : base + "/" + relative
    }
}
