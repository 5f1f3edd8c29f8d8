/// The rights of an ACL entry (protocols/chirp.md §9). `reserved` holds the
/// sub-rights of `v(...)`: what a directory made with the `v` right grants
/// its maker.
struct ChirpRights: OptionSet, Hashable {
    let rawValue: Int

    static let read = ChirpRights(rawValue: 1 << 0)
    static let write = ChirpRights(rawValue: 1 << 1)
    static let list = ChirpRights(rawValue: 1 << 2)
    static let delete = ChirpRights(rawValue: 1 << 3)
    static let put = ChirpRights(rawValue: 1 << 4)
    static let admin = ChirpRights(rawValue: 1 << 5)
    static let execute = ChirpRights(rawValue: 1 << 6)
    static let reserve = ChirpRights(rawValue: 1 << 7)

    /// The order in which the reference server prints letters.
    private static let letters: [(Character, ChirpRights)] = [
        ("r", .read), ("w", .write), ("l", .list), ("d", .delete),
        ("p", .put), ("a", .admin), ("x", .execute), ("v", .reserve),
    ]
    private static let subRightsShift = 8

    /// The rights a `v(...)` reservation gives the new directory's maker.
    var reserved: ChirpRights { ChirpRights(rawValue: rawValue >> ChirpRights.subRightsShift & 0xFF) }

    /// Parses letters as the reference server does: `w` implies `p`, unknown
    /// letters count for nothing, so `-` or `n` is no right at all.
    init(text: Substring) {
        var value = ChirpRights()
        var inside = false
        for character in text {
            switch character {
            case "(" where value.contains(.reserve): inside = true
            case ")": inside = false
            default:
                guard let right = ChirpRights.letters.first(where: { $0.0 == character })?.1 else { continue }
                let granted: ChirpRights = right == .write ? [.write, .put] : right
                if inside {
                    value.formUnion(ChirpRights(rawValue: right.rawValue << ChirpRights.subRightsShift))
                } else {
                    value.formUnion(granted)
                }
            }
        }
        self = value
    }

    init(rawValue: Int) { self.rawValue = rawValue }

    /// `rwldpa`, `v(rwl)`, or `n` for none.
    var text: String {
        var out = ""
        for (letter, right) in ChirpRights.letters where right != .reserve && contains(right) { out.append(letter) }
        if contains(.reserve) {
            let sub = reserved
            out += "v(" + String(ChirpRights.letters.filter { sub.contains($0.1) }.map(\.0)) + ")"
        }
        return out.isEmpty ? "n" : out
    }

    /// What `mkdir` with the `v` right grants: the sub-rights, or `rwlda` if none.
    var reservationGrant: ChirpRights {
        let sub = reserved
        return sub.isEmpty ? [.read, .write, .put, .list, .delete, .admin] : sub
    }
}
