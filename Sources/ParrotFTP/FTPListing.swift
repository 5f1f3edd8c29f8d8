#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// One name as a listing or MLST describes it.
struct FTPEntry: Sendable, Equatable {
    var name: String
    var type: UInt32  // S_IFREG, S_IFDIR, S_IFLNK
    var size: Int64
    var mtime: Int64?
    /// The file's own bits (unix.mode, or the listing's rwx); nil: unknown.
    var mode: UInt32?
    /// RFC 3659 perm fact: what this login may do (r, w, a, c, d, e, f, l, m, p).
    var perm: String?
    var linkTarget: String?

    /// May this login write it? The perm fact when the server gives it,
    /// else the owner's bits (the login usually owns what it wrote).
    var isWritable: Bool {
        if let perm { return type == S_IFDIR ? perm.contains("c") || perm.contains("m") : perm.contains("w") || perm.contains("a") }
        return (mode ?? 0o200) & 0o200 != 0
    }

    var permissionBits: UInt32 {
        if let mode { return mode & 0o7777 }
        guard let perm else { return type == S_IFDIR ? 0o755 : 0o644 }
        if type == S_IFDIR {
            return (perm.contains("l") ? 0o444 : 0) | (perm.contains("e") ? 0o111 : 0) | (isWritable ? 0o200 : 0)
        }
        return (perm.contains("r") ? 0o444 : 0) | (isWritable ? 0o200 : 0)
    }
}

/// Parsers for the three listing forms: MLSD/MLST fact lines (RFC 3659),
/// and Unix `ls -l` lines from LIST for servers without MLST.
enum FTPListing {
    /// `type=file;size=12;modify=20261128090102.123;perm=r; name`
    /// (MLST's line starts with a space and names the full path).
    static func facts(_ line: String) -> FTPEntry? {
        let text = line.hasPrefix(" ") ? line.dropFirst() : Substring(line)
        guard let space = text.firstIndex(of: " ") else { return nil }
        let name = String(text[text.index(after: space)...])
        var entry = FTPEntry(name: name, type: S_IFREG, size: 0)
        for fact in text[..<space].split(separator: ";") {
            guard let equals = fact.firstIndex(of: "=") else { continue }
            let key = fact[..<equals].lowercased(), value = fact[fact.index(after: equals)...]
            switch key {
            case "type":
                let lower = value.lowercased()
                if lower == "dir" || lower == "cdir" || lower == "pdir" { entry.type = S_IFDIR }
                else if lower.hasPrefix("os.unix=slink") || lower.hasPrefix("os.unix=symlink") {
                    entry.type = S_IFLNK
                    if let colon = value.firstIndex(of: ":") { entry.linkTarget = String(value[value.index(after: colon)...]) }
                }
                if lower == "cdir" || lower == "pdir" { entry.name = lower == "cdir" ? "." : ".." }
            case "size": entry.size = Int64(value) ?? 0
            case "modify": entry.mtime = time(value)
            case "perm": entry.perm = value.lowercased()
            case "unix.mode":  // octal; pyftpdlib writes Python's 0o600
                entry.mode = UInt32(value.hasPrefix("0o") ? value.dropFirst(2) : value, radix: 8)
            default: break
            }
        }
        return entry
    }

    /// `YYYYMMDDHHMMSS[.sss]`, UTC (MLST, MDTM).
    static func time(_ value: Substring) -> Int64? {
        let digits = value.prefix { $0 != "." }
        guard digits.count == 14, digits.allSatisfy(\.isNumber) else { return nil }
        func field(_ from: Int, _ length: Int) -> Int32 {
            Int32(digits.dropFirst(from).prefix(length))!
        }
        return utc(year: field(0, 4), month: field(4, 2), day: field(6, 2),
                   hour: field(8, 2), minute: field(10, 2), second: field(12, 2))
    }

    static func utc(year: Int32, month: Int32, day: Int32, hour: Int32, minute: Int32, second: Int32) -> Int64 {
        var fields = tm()
        fields.tm_year = year - 1900
        fields.tm_mon = month - 1
        fields.tm_mday = day
        fields.tm_hour = hour
        fields.tm_min = minute
        fields.tm_sec = second
        return Int64(timegm(&fields))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// `drwxr-xr-x 2 ftp ftp 4096 Nov 28 09:04 name` (recent: the year is
    /// the one that puts it at most a day in the future) or
    /// `-rw-r--r-- 1 ftp ftp 12 Nov 28  2025 name`; times in UTC, as
    /// vsftpd and pyftpdlib send them. `now` is for the recent form.
    static func unixLine(_ line: String, now: Int64) -> FTPEntry? {
        var rest = Substring(line)
        func word() -> Substring? {
            rest = rest.drop { $0 == " " }
            guard !rest.isEmpty else { return nil }
            let token = rest.prefix { $0 != " " }
            rest = rest.dropFirst(token.count)
            return token
        }
        guard let modeText = word(), modeText.count >= 10 else { return nil }
        let type: UInt32
        switch modeText.first {
        case "d": type = S_IFDIR
        case "l": type = S_IFLNK
        case "-": type = S_IFREG
        default: return nil
        }
        var bits: UInt32 = 0
        for (index, character) in modeText.dropFirst().prefix(9).enumerated() where character != "-" {
            bits |= 1 << (8 - UInt32(index))
        }
        let special = Array(modeText.dropFirst())
        if special[2] == "s" || special[2] == "S" { bits |= 0o4000 }
        if special[5] == "s" || special[5] == "S" { bits |= 0o2000 }
        if special[8] == "t" || special[8] == "T" { bits |= 0o1000 }
        // links, owner, group, size, month, day, year-or-time
        guard word() != nil, word() != nil, word() != nil, let sizeText = word(), let size = Int64(sizeText),
              let monthText = word(), let month = months.firstIndex(of: monthText.lowercased()),
              let dayText = word(), let day = Int32(dayText), let when = word() else { return nil }
        rest = rest.dropFirst()  // the one space before the name
        var name = String(rest)
        var target: String? = nil
        if type == S_IFLNK, let arrow = name.firstRange(of: " -> ") {
            target = String(name[arrow.upperBound...])
            name = String(name[..<arrow.lowerBound])
        }
        guard !name.isEmpty else { return nil }
        let mtime: Int64
        if when.contains(":") {
            let parts = when.split(separator: ":")
            guard parts.count == 2, let hour = Int32(parts[0]), let minute = Int32(parts[1]) else { return nil }
            var year = currentYear(now)
            var guess = utc(year: year, month: Int32(month + 1), day: day, hour: hour, minute: minute, second: 0)
            if guess > now + 86_400 {
                year -= 1
                guess = utc(year: year, month: Int32(month + 1), day: day, hour: hour, minute: minute, second: 0)
            }
            mtime = guess
        } else {
            guard let year = Int32(when) else { return nil }
            mtime = utc(year: year, month: Int32(month + 1), day: day, hour: 0, minute: 0, second: 0)
        }
        return FTPEntry(name: name, type: type, size: size, mtime: mtime, mode: bits, perm: nil, linkTarget: target)
    }

    private static func currentYear(_ now: Int64) -> Int32 {
        var seconds = time_t(now)
        var fields = tm()
        gmtime_r(&seconds, &fields)
        return fields.tm_year + 1900
    }
}
