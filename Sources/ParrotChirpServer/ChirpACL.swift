/// One ACL: the lines `SUBJECT RIGHTS` of a `.__acl` file (protocols/chirp.md §9).
struct ChirpACL: Equatable {
    struct Entry: Equatable {
        var subject: String
        var rights: ChirpRights
    }

    var entries: [Entry]

    /// A line counts if it is a subject, one space and at least one rights
    /// character; others are skipped, as the reference server skips them.
    init(text: String) {
        entries = text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard words.count == 2, !words[0].isEmpty else { return nil }
            let rightsText = words[1].prefix { "rwldpvax()".contains($0) }
            guard !rightsText.isEmpty else { return nil }
            return Entry(subject: String(words[0]), rights: ChirpRights(text: rightsText))
        }
    }

    init(entries: [Entry]) {
        self.entries = entries
    }

    var text: String { entries.map { "\($0.subject) \($0.rights.text)\n" }.joined() }

    /// The union of the rights of every entry whose subject pattern matches.
    func rights(of subject: String) -> ChirpRights {
        entries.reduce(into: ChirpRights()) { total, entry in
            if ChirpACL.matches(pattern: entry.subject, subject) { total.formUnion(entry.rights) }
        }
    }

    /// Sets (or, with no rights, removes) the entry of `subject`.
    mutating func set(_ subject: String, _ rights: ChirpRights) {
        if let index = entries.firstIndex(where: { $0.subject == subject }) {
            entries[index].rights = rights
        } else {
            entries.append(Entry(subject: subject, rights: rights))
        }
        entries.removeAll { $0.rights.isEmpty }
    }

    /// The reference server's wildcard: the first `*` stands for any text.
    static func matches(pattern: String, _ subject: String) -> Bool {
        guard let star = pattern.firstIndex(of: "*") else { return pattern == subject }
        let head = pattern[..<star], tail = pattern[pattern.index(after: star)...]
        return subject.count >= head.count + tail.count && subject.hasPrefix(head) && subject.hasSuffix(tail)
    }
}
