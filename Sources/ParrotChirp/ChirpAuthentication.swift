#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// The authentication methods this client speaks (protocols/chirp.md §2).
public enum ChirpAuthMethod: String, Sendable, CaseIterable {
    /// Proves the local uid by creating a file the server names, in a
    /// directory both share: works on the server's own host.
    case unix
    /// The server's reverse lookup of the client's address.
    case hostname
    /// The client's address itself; no secret at all.
    case address
}

/// The client-driven negotiation: propose each method in order until the
/// server accepts one. The server never proposes anything.
enum ChirpAuthentication {
    /// Returns the session's subject, e.g. `unix:root` or `address:127.0.0.1`.
    static func negotiate(_ channel: ChirpChannel, methods: [ChirpAuthMethod]) throws(ServiceError) -> String {
        for method in methods {
            try channel.send(Array((method.rawValue + "\n").utf8))
            guard try answer(channel) else { continue }  // not registered on the server
            let verified = switch method {
            case .unix: try proveUnixIdentity(channel)
            case .hostname, .address: try answer(channel)
            }
            guard verified else { continue }
            // Success: "yes", the method, the subject.
            guard try answer(channel) else { throw channel.fail(EPROTO, "authentication: no subject after success") }
            let name = try channel.readLine()
            let subject = try channel.readLine()
            return name + ":" + subject
        }
        throw ServiceError(errno: EACCES, message: "chirp: the server accepted none of the authentication methods "
                           + methods.map(\.rawValue).joined(separator: ", "))
    }

    /// Creates the challenge file the server names and lets the server check
    /// its owner. A file that cannot be created fails this method only.
    private static func proveUnixIdentity(_ channel: ChirpChannel) throws(ServiceError) -> Bool {
        let challenge = try channel.readLine()
        let fd = open(challenge, O_CREAT | O_EXCL | O_WRONLY | O_SYNC | O_NOCTTY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            try channel.send(Array("no\n".utf8))
            return false
        }
        Glibc.close(fd)
        defer { unlink(challenge) }  // the server removes it too; whoever is first
        try channel.send(Array("yes\n".utf8))
        return try answer(channel)
    }

    private static func answer(_ channel: ChirpChannel) throws(ServiceError) -> Bool {
        switch try channel.readLine() {
        case "yes": true
        case "no": false
        case let other: throw channel.fail(EPROTO, "authentication: unexpected reply \(other.prefix(40))")
        }
    }
}
