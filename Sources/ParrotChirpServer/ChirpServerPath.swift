/// A request path after the server's cleaning (protocols/chirp.md §3): URL-
/// decoded, made absolute and collapsed, so `..` can never climb above the
/// export root lexically. Symlinks are the root's business (ChirpRoot).
struct ChirpServerPath: Equatable, CustomStringConvertible {
    /// Components without `.`, `..` or empty ones; empty for the root.
    let components: [String]

    static let root = ChirpServerPath(components: [])

    init(components: [String]) {
        self.components = components
    }

    /// nil for a word that cannot name a file (a NUL byte after decoding).
    init?(encoded word: Substring) {
        guard let decoded = ChirpServerPath.percentDecoded(word) else { return nil }
        self.init(collapsing: decoded)
    }

    /// `/a/./b/../c` is `/a/c`; `/../x` is `/x`.
    init(collapsing path: String) {
        var parts: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(String(part))
            }
        }
        components = parts
    }

    var isRoot: Bool { components.isEmpty }
    var name: String { components.last ?? "." }
    var parent: ChirpServerPath { ChirpServerPath(components: components.dropLast()) }

    /// Relative to the root's descriptor, for the *at() calls.
    var relative: String { isRoot ? "." : components.joined(separator: "/") }
    var description: String { "/" + components.joined(separator: "/") }

    func appending(_ name: String) -> ChirpServerPath {
        ChirpServerPath(collapsing: description + "/" + name)
    }

    /// `.__acl` and the other `.__` names are the server's own: never reachable by path.
    var isReserved: Bool { components.contains { $0.hasPrefix(".__") } }

    /// `%XX` becomes the byte 0xXX; a `%` not followed by two hex digits stays.
    static func percentDecoded(_ word: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.utf8.count)
        let input = Array(word.utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
               let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        guard !bytes.contains(0) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
