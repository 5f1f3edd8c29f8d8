#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// Where a /ftp or /ftps path leads: `[user@]host[:port]`.
///
/// FTPS rule: port 990 is implicit TLS (the handshake comes first, RFC 4217
/// calls it deprecated but servers still offer it there); every other port
/// is explicit TLS (`AUTH TLS` on a plain connection). The default port of
/// /ftps is 990, so `/ftps/host/...` is implicit and `/ftps/host:21/...`
/// explicit.
struct FTPServer: Sendable, Equatable, CustomStringConvertible {
    var user: String?
    var host: String
    var port: UInt16
    var secure: Bool

    var implicitTLS: Bool { secure && port == 990 }
    var scheme: String { secure ? "ftps" : "ftp" }
    var description: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(user.map { $0 + "@" } ?? "")\(name):\(port)"
    }

    init(user: String?, host: String, port: UInt16, secure: Bool) {
        self.user = user
        self.host = host
        self.port = port
        self.secure = secure
    }

    /// `[user@]host[:port]` or `[user@][v6]:port`.
    init(authority: String, secure: Bool) throws(ServiceError) {
        var rest = Substring(authority)
        var user: String? = nil
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        var host = rest, port: UInt16 = secure ? 990 : 21
        var portText: Substring? = nil
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Self.invalid(authority, secure) }
                portText = after.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let portText {
            guard let number = UInt16(portText), number > 0 else { throw Self.invalid(authority, secure) }
            port = number
        }
        guard !host.isEmpty, !host.contains("/"), user.map({ !$0.isEmpty && !$0.contains("/") }) ?? true else {
            throw Self.invalid(authority, secure)
        }
        self.init(user: user, host: String(host), port: port, secure: secure)
    }

    private static func invalid(_ authority: String, _ secure: Bool) -> ServiceError {
        ServiceError(errno: ENOENT, message: "\(secure ? "ftps" : "ftp"): '\(authority)' is not [user@]host[:port]")
    }
}

/// What one server offers, learned from FEAT on the first connection and
/// from trying (EPSV); shared by its connections.
struct FTPFeatures: Sendable, Equatable {
    var mlst = false
    /// The MLST facts the server can give; `unix.mode` is asked for when offered.
    var mlstFacts: [String] = []
    var mfmt = false
    var mdtm = false
    /// nil until tried: whether EPSV works (else PASV).
    var epsv: Bool? = nil
    /// nil until tried: whether SITE CHMOD works.
    var siteChmod: Bool? = nil

    init() {}

    /// From the FEAT reply's lines (` MLST type*;size*;...`, ` MFMT`, ...).
    init(feat reply: FTPReply) {
        for line in reply.body {
            let words = line.drop { $0 == " " }.split(separator: " ", maxSplits: 1)
            guard let name = words.first?.uppercased() else { continue }
            switch name {
            case "MLST":
                mlst = true
                mlstFacts = words.count > 1 ? words[1].split(separator: ";").map { String($0.filter { $0 != "*" }).lowercased() } : []
            case "MFMT": mfmt = true
            case "MDTM": mdtm = true
            default: break
            }
        }
    }
}
