#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import ParrotTLS
import Synchronization

struct FTPPoolState {
    var idle: [FTPControlConnection] = []
    /// The server's FEAT answer and what trying taught (EPSV, SITE CHMOD).
    var features: FTPFeatures?
    var tls: TLSContext?
    var warned = false
    var connectionsOpened = 0
}

/// The control connections of one server. FTP runs one transfer per
/// control connection, so an open transfer holds its connection and other
/// operations take an idle one or log in anew; a few idle ones are kept.
final class FTPConnectionPool: Sendable {
    let server: FTPServer
    let options: FTPOptions
    private let state = Mutex(FTPPoolState())
    let counter = FTPCommandCounter()

    init(server: FTPServer, options: FTPOptions) {
        self.server = server
        self.options = options
    }

    var features: FTPFeatures? { state.withLock { $0.features } }
    var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }

    func learn(_ change: @Sendable (inout FTPFeatures) -> Void) {
        state.withLock { state in
            if state.features != nil { change(&state.features!) }
        }
    }

    /// An idle connection that is still usable (reused: true), else a new one.
    func take() throws(ServiceError) -> (FTPControlConnection, reused: Bool) {
        while let connection = state.withLock({ $0.idle.popLast() }) {
            if !connection.isStale { return (connection, true) }
        }
        return (try connect(), false)
    }

    func give(_ connection: FTPControlConnection) {
        guard !connection.isBroken else { return }
        state.withLock { state in
            if state.idle.count < options.idleConnections { state.idle.append(connection) }
        }
    }

    /// Runs `body` on a connection and gives it back (unless `keeping`: a
    /// transfer started by `body` holds it). A reused connection that turns
    /// out dead (421, EOF) is replaced once when `idempotent`.
    func perform<T>(idempotent: Bool, keeping: Bool = false,
                    _ body: (FTPControlConnection) throws(ServiceError) -> T) throws(ServiceError) -> T {
        var (connection, reused) = try take()
        while true {
            do throws(ServiceError) {
                let result = try body(connection)
                if !keeping { give(connection) }
                return result
            } catch {
                give(connection)
                guard connection.isBroken && reused && idempotent else { throw error }
                connection = try connect()
                reused = false
            }
        }
    }

    /// Logs in anew. A refused certificate or login is said once to the user.
    func connect() throws(ServiceError) -> FTPControlConnection {
        let (known, tls) = try state.withLock { (state) throws(ServiceError) -> (FTPFeatures?, TLSContext?) in
            if server.secure && state.tls == nil { state.tls = try TLSContext(caFile: options.caFile, label: "ftps") }
            return (state.features, state.tls)
        }
        let connection: FTPControlConnection
        do throws(ServiceError) {
            connection = try FTPControlConnection(server: server, login: login(tls: tls), options: options, known: known, counter: counter)
        } catch {
            if error.errno == EACCES {
                let first = state.withLock { state in
                    defer { state.warned = true }
                    return !state.warned
                }
                if first {
                    let hint = error.message.contains("certificate") && options.caFile == nil ? " (--ca-file names a CA to trust)" : ""
                    options.warn(error.message + hint)
                }
            }
            throw error
        }
        state.withLock { state in
            state.connectionsOpened += 1
            if state.features == nil { state.features = connection.features }
        }
        return connection
    }

    /// The user named in the path, else the credentials file's user for the
    /// host, else anonymous. Passwords: the credentials file, then
    /// PARROT_FTP_PASSWORD; anonymous gives an address-like one.
    private func login(tls: TLSContext?) -> FTPLogin {
        let entry = options.credentials.login(host: server.host, user: server.user)
        let machineUser = options.credentials.logins.first { $0.machine == server.host }?.user
        let user = server.user ?? machineUser ?? "anonymous"
        var password = user == server.user || user == machineUser ? entry?.password : nil
        if password == nil && user != "anonymous" && user != "ftp" { password = options.environmentPassword }
        return FTPLogin(user: user, password: password ?? "parrot@", tls: tls)
    }
}
