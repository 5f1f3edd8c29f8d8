/// An error in a mount list, naming the file and line.
public struct MountListError: Error, CustomStringConvertible, Equatable {
    public let origin: String
    public let message: String
    public var description: String { "\(origin): \(message)" }
}

/// Parrot's mount-list format: one `PREFIX REDIRECT [MODE]` per line, REDIRECT a
/// host path or DENY / ENOENT / LOCAL, MODE letters from rwx, `#` comments.
/// `PREFIX MODE` alone restricts a local prefix (e.g. `/ rx`).
public enum MountList {
    public static func parse(_ text: String, file: String) throws -> [MountEntry] {
        var entries: [MountEntry] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let origin = "\(file):\(index + 1)"
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if words.isEmpty { continue }
            entries.append(try entry(words, origin: origin))
        }
        return entries
    }

    /// A command-line `-M PREFIX=REDIRECT[:MODE]`... in the form `/a=/b`.
    public static func parseOption(_ text: String) throws -> MountEntry {
        guard let equals = text.firstIndex(of: "=") else {
            throw MountListError(origin: "-M \(text)", message: "expected PREFIX=REDIRECT, e.g. /data=/tmp/work")
        }
        let prefix = String(text[..<equals])
        let rest = String(text[text.index(after: equals)...])
        return try entry([prefix, rest], origin: "-M \(text)")
    }

    static func entry(_ words: [String], origin: String) throws -> MountEntry {
        func fail(_ message: String) -> MountListError { MountListError(origin: origin, message: message) }
        guard words.count == 2 || words.count == 3 else {
            throw fail("expected PREFIX REDIRECT [MODE], got \(words.count) fields")
        }
        guard words[0].hasPrefix("/") else { throw fail("prefix '\(words[0])' is not an absolute path") }
        let prefix = PathName.normalize(words[0])
        var mode = AccessMode.all
        if words.count == 3 {
            guard let parsed = AccessMode(letters: words[2]) else {
                throw fail("mode '\(words[2])' is not made of the letters r, w, x")
            }
            mode = parsed
        }
        let target: MountTarget
        switch words[1] {
        case "DENY": target = .deny
        case "ENOENT": target = .enoent
        case "LOCAL": target = .local
        case let path where path.hasPrefix("/"):
            target = .redirect(PathName.normalize(path))
        case let letters where words.count == 2 && AccessMode(letters: letters) != nil:
            target = .local
            mode = AccessMode(letters: letters)!
        default:
            throw fail("redirect '\(words[1])' is neither an absolute path nor DENY, ENOENT or LOCAL")
        }
        return MountEntry(prefix: prefix, target: target, mode: mode, origin: origin)
    }
}
