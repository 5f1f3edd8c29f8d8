#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// Logins from a file in netrc format: `machine HOST login USER password
/// PASS` entries and one `default` entry, tokens separated by any white
/// space (`macdef` bodies are skipped). Passwords never come from the
/// command line, where `ps` would show them.
public struct FTPCredentials: Sendable, Equatable {
    public struct Login: Sendable, Equatable {
        public var machine: String?  // nil: the default entry
        public var user: String?
        public var password: String?
    }

    public var logins: [Login] = []

    public init() {}

    public init(netrc text: String) {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)[...]
        var current: Login?
        func finish() { if let entry = current { logins.append(entry) } ; current = nil }
        while let token = tokens.popFirst() {
            switch token {
            case "machine":
                finish()
                current = Login(machine: tokens.popFirst())
            case "default":
                finish()
                current = Login(machine: nil)
            case "login": current?.user = tokens.popFirst()
            case "password": current?.password = tokens.popFirst()
            case "account": _ = tokens.popFirst()
            case "macdef":
                // A macro runs to the next blank line, which splitting lost:
                // skip to the next entry keyword instead.
                _ = tokens.popFirst()
                while let next = tokens.first, next != "machine", next != "default" { tokens.removeFirst() }
            default: break
            }
        }
        finish()
    }

    /// Reads `path`; a missing file is no credentials, an unreadable one an error.
    public static func load(_ path: String) throws(ServiceError) -> FTPCredentials {
        let file = try LocalDescriptor.open(path, flags: O_RDONLY, mode: 0)
        defer { file.close() }
        return FTPCredentials(netrc: String(decoding: try file.readAll(), as: UTF8.self))
    }

    /// The user and password for `host`: the named user's entry for that
    /// machine (or the machine's entry when no user is named), else the
    /// default entry's.
    public func login(host: String, user: String?) -> (user: String?, password: String?)? {
        let matches = logins.filter { $0.machine == host } + logins.filter { $0.machine == nil }
        let entry = matches.first { user == nil || $0.user == nil || $0.user == user }
        return entry.map { (user ?? $0.user, $0.password) }
    }
}
