#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import Synchronization

/// A file opened through the service. The remote fd belongs to one connection
/// (`generation`); after a reconnect the file is opened again and must still
/// be the same file.
struct ChirpOpenFile {
    let path: String
    let flags: Int32
    let mode: UInt32
    let dev: UInt64
    let ino: UInt64
    var fd: Int64
    var generation: Int
    var offset: Int64 = 0
    /// A write sent ahead that the server refused: the file's next write,
    /// fsync or close reports it (as NFS does).
    var writeFailure: ServiceError?
}

struct ChirpSessionState {
    var connection: ChirpConnection?
    var generation = 0
    /// Whether this server has ever answered: only then is a failure to
    /// connect worth waiting out.
    var everConnected = false
    var files: [Int: ChirpOpenFile] = [:]
    var nextHandle = 0
}

/// The one connection to a server, shared by every caller in turn, and the
/// reconnect policy around each operation.
final class ChirpSession: Sendable {
    let host: String
    let port: UInt16
    let options: ChirpOptions
    private let state = Mutex(ChirpSessionState())

    init(host: String, port: UInt16, options: ChirpOptions) {
        self.host = host
        self.port = port
        self.options = options
    }

    /// Runs `body` on a live connection. When the connection breaks, it
    /// reconnects with exponential backoff until `retryTimeout` and runs `body`
    /// again, unless the request was not `idempotent` and may already have
    /// taken effect. A reply from the server (an error code) ends it at once.
    /// Writes sent ahead are answered first (`sendingAhead`: only as many as
    /// it takes to make room for one more). Closes sent ahead of an idempotent
    /// request are answered after it is sent, with its reply: one read less.
    func perform<T: Sendable>(_ what: @autoclosure () -> String, idempotent: Bool, sendingAhead: Bool = false,
                              _ body: (ChirpConnection, inout ChirpSessionState) throws(ServiceError) -> T) throws(ServiceError) -> T {
        try state.withLock { (state) throws(ServiceError) -> T in
            // A write sent ahead cannot be repeated: after a quiet spell, when
            // the server may have closed the connection, every reply is read
            // and the connection looked at first, as for a non-idempotent request.
            let quiet = sendingAhead && state.connection?.channel.isQuiet ?? false
            if !(idempotent && !quiet && state.connection?.onlyClosesUnanswered == true) {
                ChirpSession.settle(&state, roomOnly: sendingAhead && !quiet)
            }
            let mustBeAlive = !idempotent || quiet
            var deadline: Deadline?  // from the first failure: most calls never need it
            var pause = options.initialBackoff
            while true {
                var started = false
                do throws(ServiceError) {
                    let connection = try connect(&state, checkAlive: mustBeAlive, lookEvenIfFresh: quiet)
                    started = true
                    return try body(connection, &state)
                } catch {
                    let transportFailed = started ? state.connection?.channel.isBroken ?? true : ChirpSession.isTransient(error.errno)
                    guard transportFailed else { throw error }
                    ChirpSession.dropConnection(&state, because: error)
                    // A reply that cannot be read (a name with a line break in a
                    // listing) would be the same again: no retries.
                    if started && error.errno == EPROTO { throw error }
                    guard state.everConnected else { throw error }
                    if started && !idempotent {
                        throw ServiceError(errno: ECONNRESET, message: "chirp \(host):\(port): connection lost during \(what()), which may have taken effect: \(error)")
                    }
                    let giveUp = deadline ?? .after(seconds: options.retryTimeout)
                    deadline = giveUp
                    guard giveUp.secondsLeft > pause else { throw error }
                    usleep(UInt32(pause * 1e6))
                    pause = min(pause * 2, options.maxBackoff)
                }
            }
        }
    }

    /// Runs `body` with the current connection, unless it is known to be
    /// broken, after reading every reply outstanding; never reconnects
    /// (closing a file of a lost connection has nothing to do).
    func withCurrentConnection<T: Sendable>(_ body: (ChirpConnection?, inout ChirpSessionState) throws(ServiceError) -> T) throws(ServiceError) -> T {
        try state.withLock { (state) throws(ServiceError) -> T in
            // Closes sent ahead may wait for the next request's reply; writes may not.
            ChirpSession.settle(&state, roomOnly: state.connection?.onlyClosesUnanswered == true)
            if let connection = state.connection, connection.channel.isBroken { state.connection = nil }
            return try body(state.connection, &state)
        }
    }

    /// The open flags of a file, without a request (nil: no such handle).
    func flags(of handle: Int) -> Int32? {
        state.withLock { $0.files[handle]?.flags }
    }

    /// The live connection, or a new one. A request that must not be repeated
    /// first checks that the server has not closed an idle connection (one
    /// poll); others find out from the failure and are retried.
    /// After a quiet spell (`lookEvenIfFresh`) a reply just read proves
    /// nothing: it may have waited in the socket since before the server
    /// closed the connection.
    private func connect(_ state: inout ChirpSessionState, checkAlive: Bool,
                         lookEvenIfFresh: Bool = false) throws(ServiceError) -> ChirpConnection {
        // Bytes no reply accounts for: the stream is out of step (a reply read short).
        if let connection = state.connection, !connection.channel.isBroken,
           !(connection.unanswered.isEmpty && connection.channel.hasBufferedBytes),
           checkAlive ? ((connection.channel.isFresh && !lookEvenIfFresh) || !connection.channel.isStale) : true {
            return connection
        }
        ChirpSession.dropConnection(&state, because: ServiceError(errno: ECONNRESET, message: "the connection was closed"))
        state.generation += 1
        let connection = try ChirpConnection(host: host, port: port, options: options, generation: state.generation)
        state.connection = connection
        state.everConnected = true
        return connection
    }

    /// Failures to connect that a running server would not cause for ever.
    private static func isTransient(_ code: Int32) -> Bool {
        [ECONNREFUSED, ECONNRESET, ECONNABORTED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EAGAIN, EPIPE, EPROTO].contains(code)
    }
}
