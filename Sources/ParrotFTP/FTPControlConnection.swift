#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import ParrotTLS
import Synchronization

/// How a connection logs in: the user, the password (from the credentials
/// file or the environment, never the command line) and TLS.
struct FTPLogin: Sendable {
    var user: String
    var password: String
    var tls: TLSContext?
}

/// Commands sent, for tests that count round trips.
final class FTPCommandCounter: Sendable {
    private let value = Atomic<Int>(0)
    func count() { value.add(1, ordering: .relaxed) }
    var total: Int { value.load(ordering: .relaxed) }
}

/// One logged-in control connection, used by one operation (or one open
/// transfer) at a time. Commands and replies, passive data connections.
final class FTPControlConnection: @unchecked Sendable {
    let server: FTPServer
    private let stream: NetworkStream
    private let options: FTPOptions
    private let tls: TLSContext?
    /// This connection's FEAT answer (FEAT is asked once per connection).
    private(set) var features = FTPFeatures()
    /// Counts the commands of every connection of the server.
    private let counter: FTPCommandCounter

    var isBroken: Bool { stream.isBroken }
    /// Idle, and the server has said something (421) or closed it.
    var isStale: Bool { stream.isBroken || stream.hasPendingInput }
    /// The server spoke without being asked (a store it gave up: 452).
    var hasUnaskedReply: Bool { stream.hasPendingInput }

    /// Connects, secures (FTPS), logs in, asks FEAT and sets binary mode.
    init(server: FTPServer, login: FTPLogin, options: FTPOptions, known: FTPFeatures?,
         counter: FTPCommandCounter) throws(ServiceError) {
        self.server = server
        self.counter = counter
        self.options = options
        tls = login.tls
        stream = try NetworkStream(host: server.host, port: server.port, connectTimeout: options.connectTimeout,
                                   stallTimeout: options.stallTimeout, label: server.scheme)
        if server.implicitTLS, let tls { try stream.startTLS(context: tls, host: server.host) }
        var greeting = try readReply()
        while greeting.isPreliminary { greeting = try readReply() }  // 120: ready in a moment
        guard greeting.code == 220 else { throw refusal("greeting", greeting) }
        if server.secure && !server.implicitTLS, let tls {
            let reply = try command("AUTH TLS")
            guard reply.code == 234 else {
                throw ServiceError(errno: EPROTO, message: "\(server): does not offer TLS (AUTH TLS: \(reply))")
            }
            try stream.startTLS(context: tls, host: server.host)
        }
        try logIn(login)
        if server.secure {
            try expect("PBSZ 0", 200)
            try expect("PROT P", 200)
        }
        if let known { features = known } else { features = FTPFeatures(feat: try command("FEAT")) }
        if known == nil, features.mlstFacts.contains("unix.mode") {
            features.mlstFacts = ["type", "size", "modify", "perm", "unix.mode"].filter(features.mlstFacts.contains)
        }
        if features.mlstFacts.contains("unix.mode") {
            _ = try command("OPTS MLST " + features.mlstFacts.map { $0 + ";" }.joined())
        }
        try expect("TYPE I", 200)
    }

    private func logIn(_ login: FTPLogin) throws(ServiceError) {
        var reply = try command("USER \(login.user)")
        if reply.code == 331 { reply = try command("PASS \(login.password)") }
        guard reply.code == 230 || reply.code == 202 else {
            // 530: the login is wrong; anything else is the server failing.
            let code: Int32 = reply.code == 530 ? EACCES : reply.code == 421 ? EAGAIN : EPROTO
            throw ServiceError(errno: code, message: "\(server): login as \(login.user) refused: \(reply)")
        }
    }

    private func expect(_ text: String, _ code: Int) throws(ServiceError) {
        let reply = try command(text)
        guard reply.code == code else { throw refusal(text.prefix { $0 != " " }.description, reply) }
    }

    private func refusal(_ what: String, _ reply: FTPReply) -> ServiceError {
        ServiceError(errno: reply.code == 421 ? EAGAIN : EPROTO, message: "\(server): \(what): \(reply)")
    }

    /// Sends a command and reads its reply (1xx included: transfers read on).
    func command(_ text: String) throws(ServiceError) -> FTPReply {
        try send(text)
        return try readReply()
    }

    func send(_ text: String) throws(ServiceError) {
        guard !text.contains("\r"), !text.contains("\n") else {
            throw ServiceError(errno: EINVAL, message: "\(server): a name with a line break cannot be sent")
        }
        counter.count()
        try stream.send(text + "\r\n")
    }

    /// The next reply. A closed connection or a 421 (the server closes)
    /// leaves the connection broken and is ECONNRESET, which callers retry
    /// once on a new connection when that is safe.
    func readReply() throws(ServiceError) -> FTPReply {
        guard let reply = try FTPReply.read({ () throws(ServiceError) in try stream.readLine() }) else {
            stream.isBroken = true
            throw ServiceError(errno: ECONNRESET, message: "\(server): the server closed the connection")
        }
        if reply.code == 421 {
            stream.isBroken = true
            throw ServiceError(errno: ECONNRESET, message: "\(server): \(reply)")
        }
        return reply
    }

    /// Drops the connection (a transfer that cannot be ended cleanly).
    func abandon() { stream.isBroken = true }

    // MARK: data connections

    /// Opens a passive data connection: EPSV (RFC 2428), else PASV, and the
    /// server learns which works once. The address is always the control
    /// connection's host (a PASV address is often a NAT's inside one).
    func openData(rememberEPSV: (Bool) -> Void) throws(ServiceError) -> NetworkStream {
        var port: UInt16? = nil
        if features.epsv != false {
            let reply = try command("EPSV")
            if reply.code == 229, let number = Self.epsvPort(reply.text) {
                port = number
                if features.epsv == nil { features.epsv = true; rememberEPSV(true) }
            } else if reply.code >= 500 {
                features.epsv = false
                rememberEPSV(false)
            } else {
                throw ServiceError(errno: EPROTO, message: "\(server): EPSV: \(reply)")
            }
        }
        if port == nil {
            let reply = try command("PASV")
            guard reply.code == 227, let number = Self.pasvPort(reply.text) else {
                throw ServiceError(errno: EPROTO, message: "\(server): no passive mode: \(reply)")
            }
            port = number
        }
        return try NetworkStream(host: server.host, port: port!, connectTimeout: options.connectTimeout,
                                 stallTimeout: options.stallTimeout, label: server.scheme + " data")
    }

    /// After the 1xx of a transfer: TLS on the data connection, resuming the
    /// control connection's session.
    func secureData(_ data: NetworkStream) throws(ServiceError) {
        guard server.secure, let tls else { return }
        try data.startTLS(context: tls, host: server.host, resuming: stream.tls)
    }

    /// `229 Entering Extended Passive Mode (|||6446|)`
    static func epsvPort(_ text: String) -> UInt16? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let inside = text[text.index(after: open)..<close]
        guard let delimiter = inside.first else { return nil }
        let fields = inside.split(separator: delimiter, omittingEmptySubsequences: false)
        return fields.count >= 4 ? UInt16(fields[3]) : nil
    }

    /// `227 Entering Passive Mode (127,0,0,1,195,80)`
    static func pasvPort(_ text: String) -> UInt16? {
        let numbers = text.split { !$0.isNumber }.compactMap { Int($0) }
        guard numbers.count >= 6 else { return nil }
        let high = numbers[numbers.count - 2], low = numbers[numbers.count - 1]
        guard (0..<256).contains(high), (0..<256).contains(low), high + low > 0 else { return nil }
        return UInt16(high * 256 + low)
    }
}
