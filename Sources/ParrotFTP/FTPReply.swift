#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// One server reply: its code and its text, all lines of a multi-line one
/// (`123-first` ... `123 last`, RFC 959 4.2).
struct FTPReply: Sendable, Equatable, CustomStringConvertible {
    let code: Int
    let lines: [String]

    /// The last line's text, after the code.
    var text: String { String((lines.last ?? "").dropFirst(4)) }
    var description: String { lines.joined(separator: " / ") }
    var isPreliminary: Bool { (100..<200).contains(code) }
    var isCompletion: Bool { (200..<300).contains(code) }
    var isIntermediate: Bool { (300..<400).contains(code) }

    /// The lines between the first and the last (FEAT, MLST, STAT bodies).
    var body: [String] { lines.count > 2 ? Array(lines[1..<(lines.count - 1)]) : [] }

    /// Reads one reply; nil when the server closed the connection instead.
    static func read(_ nextLine: () throws(ServiceError) -> String?) throws(ServiceError) -> FTPReply? {
        guard let first = try nextLine() else { return nil }
        guard let code = code(of: first) else {
            throw ServiceError(errno: EPROTO, message: "not an FTP reply: \(first.prefix(80))")
        }
        var lines = [first]
        if first.dropFirst(3).first == "-" {
            let end = first.prefix(3) + " "
            while true {
                guard let line = try nextLine() else { return nil }
                lines.append(line)
                if line.hasPrefix(end) { break }
            }
        }
        return FTPReply(code: code, lines: lines)
    }

    private static func code(of line: String) -> Int? {
        let digits = line.prefix(3)
        guard digits.count == 3, digits.allSatisfy(\.isNumber), let code = Int(digits) else { return nil }
        let separator = line.dropFirst(3).first
        return separator == nil || separator == " " || separator == "-" ? code : nil
    }
}
