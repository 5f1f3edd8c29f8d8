#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import ParrotTLS

struct HTTPClientState {
    /// The open connection to each origin, kept between requests.
    var connections: [String: HTTPConnection] = [:]
    var tls: TLSContext?
    /// Origins that have answered once: only their refusals are worth retrying.
    var answered: Set<String> = []
    var warned: Set<String> = []
}

/// What a response handler decides.
enum HTTPOutcome<T> {
    case done(T)
    case redirect(String)
    case retry(HTTPResponseHead)
}

/// HTTP/1.1 requests over one keep-alive connection per origin, used by one
/// request at a time (a lock: drivers are called from several threads),
/// with redirects and retries around them.
/// (@unchecked: `state` is only touched with `lock` held; a Mutex cannot
/// lend its state to the response handlers that run while it is held.)
final class HTTPClient: @unchecked Sendable {
    let options: HTTPOptions
    private let proxy: (host: String, port: UInt16)?
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var state = HTTPClientState()

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    private func withLock<T>(_ body: (inout HTTPClientState) throws(ServiceError) -> T) throws(ServiceError) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body(&state)
    }

    init(options: HTTPOptions) {
        self.options = options
        pthread_mutex_init(lock, nil)
        if let text = options.proxy {
            var authority = Substring(text)
            if let colon = authority.firstIndex(of: ":"), authority[colon...].hasPrefix("://") {
                authority = authority[colon...].dropFirst(3)
            }
            authority = authority.prefix { $0 != "/" }
            if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            proxy = HTTPLocation.server(authority: String(authority), secure: false).map { ($0.host, $0.port) }
        } else {
            proxy = nil
        }
    }

    /// Whether requests to `host` go through the proxy.
    func usesProxy(for host: String) -> Bool {
        guard proxy != nil else { return false }
        if host == "localhost" || host.hasPrefix("127.") || host == "::1" { return false }
        for exception in options.noProxy {
            if exception == "*" || host == exception { return false }
            let suffix = exception.hasPrefix(".") ? exception : "." + exception
            if host.hasSuffix(suffix) { return false }
        }
        return true
    }

    /// Sends `method` for `start` and gives the response to `handle`:
    /// redirects are followed (at most `maxRedirects`: then ELOOP), and a
    /// request whose connection broke or whose server answered 5xx, 408 or
    /// 429 is sent again with backoff, `attempts` times in all, then fails
    /// (EIO for a server error). `headers` is asked again for every try.
    func perform<T>(_ method: String, _ start: HTTPLocation, headers: () -> [String] = { [] },
                    _ handle: (HTTPResponseHead, HTTPBody, HTTPLocation) throws(ServiceError) -> T) throws(ServiceError) -> T {
        var location = start
        var redirects = 0, attempt = 0
        var pause = options.initialBackoff
        let deadline = Deadline.after(seconds: options.retryTimeout)
        while true {
            var failure: ServiceError
            do throws(ServiceError) {
                let outcome = try exchange(method, location, headers: headers()) { (head, body) throws(ServiceError) -> HTTPOutcome<T> in
                    if head.isRedirect, let target = head.header("Location") { return .redirect(target) }
                    if head.status >= 500 || head.status == 408 || head.status == 429 { return .retry(head) }
                    return .done(try handle(head, body, location))
                }
                switch outcome {
                case .done(let value):
                    return value
                case .redirect(let target):
                    redirects += 1
                    guard redirects <= options.maxRedirects else {
                        throw ServiceError(errno: ELOOP, message: "\(start): more than \(options.maxRedirects) redirects")
                    }
                    guard let next = location.resolving(target) else {
                        throw ServiceError(errno: EIO, message: "\(location): redirected to '\(target)', not an http or https URL")
                    }
                    location = next
                    continue
                case .retry(let head):
                    failure = ServiceError(errno: head.status == 429 ? EAGAIN : EIO,
                                           message: "\(location): the server answered \(head.status) \(head.reason)")
                }
            } catch {
                guard isTransient(error, location) else { throw error }
                failure = error
            }
            attempt += 1
            guard attempt < options.attempts, deadline.secondsLeft > pause else {
                if [ECONNRESET, EPIPE].contains(failure.errno) {
                    throw ServiceError(errno: EIO, message: "\(location): \(failure) (after \(attempt) tries)")
                }
                throw failure
            }
            usleep(UInt32(pause * 1e6))
            pause *= 2
        }
    }

    private func isTransient(_ error: ServiceError, _ location: HTTPLocation) -> Bool {
        if [ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED].contains(error.errno) { return true }
        if [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EAGAIN].contains(error.errno) {
            return (try? withLock { $0.answered.contains(location.origin) }) ?? false
        }
        return false
    }

    /// One request and its response on the origin's connection (a new one if
    /// there is none, or if the kept one turns out closed by the server
    /// before answering). The body is read to its end afterwards when that is
    /// cheap, so the connection serves the next request.
    func exchange<T>(_ method: String, _ location: HTTPLocation, headers: [String],
                     _ handle: (HTTPResponseHead, HTTPBody) throws(ServiceError) -> T) throws(ServiceError) -> T {
        let request = requestText(method, location, headers: headers)
        return try withLock { (state) throws(ServiceError) -> T in
            while true {
                let reused: Bool
                let connection: HTTPConnection
                if let kept = state.connections[location.origin], !kept.isBroken {
                    connection = kept
                    reused = true
                } else {
                    state.connections[location.origin] = nil
                    connection = try connect(location, &state)
                    state.connections[location.origin] = connection
                    reused = false
                }
                let head: HTTPResponseHead
                do throws(ServiceError) {
                    head = try ask(request, on: connection, location)
                } catch {
                    state.connections[location.origin] = nil
                    if reused { continue }
                    throw error
                }
                state.answered.insert(location.origin)
                let body = try HTTPBody(connection: connection, head: head, method: method)
                if !head.keepsAlive { connection.isBroken = true }
                defer {
                    body.finish()
                    connection.completed()
                    if connection.isBroken { state.connections[location.origin] = nil }
                }
                return try handle(head, body)
            }
        }
    }

    /// Sends `request` and reads the response's head. A failure names the
    /// origin; the caller may try a reused connection's failure again on a
    /// new one (the server had closed it while idle).
    private func ask(_ request: String, on connection: HTTPConnection, _ location: HTTPLocation) throws(ServiceError) -> HTTPResponseHead {
        do throws(ServiceError) {
            try connection.send(request)
            guard let head = try HTTPResponseHead.read(from: connection) else {
                throw ServiceError(errno: ECONNRESET, message: "connection closed without a response")
            }
            return head
        } catch {
            throw ServiceError(errno: error.errno, message: "\(location.origin): \(error)")
        }
    }

    private func requestText(_ method: String, _ location: HTTPLocation, headers: [String]) -> String {
        let viaProxy = usesProxy(for: location.host) && !location.secure
        var request = "\(method) \(viaProxy ? location.origin + location.target : location.target) HTTP/1.1\r\n"
        request += "Host: \(location.hostPort)\r\nUser-Agent: parrot\r\nAccept-Encoding: identity\r\n"
        for header in headers { request += header + "\r\n" }
        return request + "\r\n"
    }

    /// A GET whose body the caller reads at its own pace, on a connection
    /// of its own (the origin's kept one, or a new one), which never serves
    /// another request: one request for the rest of a file read in order.
    /// No redirects or retries; the caller falls back to `perform`.
    func stream(_ location: HTTPLocation, headers: [String]) throws(ServiceError) -> (HTTPResponseHead, HTTPBody) {
        let request = requestText("GET", location, headers: headers)
        var kept = try withLock { $0.connections.removeValue(forKey: location.origin) }
        while true {
            let reused = kept != nil && !kept!.isBroken
            let connection = try reused ? kept! : withLock { (state) throws(ServiceError) in try connect(location, &state) }
            kept = nil
            do throws(ServiceError) {
                let head = try ask(request, on: connection, location)
                let body = try HTTPBody(connection: connection, head: head, method: "GET")
                connection.isBroken = true
                return (head, body)
            } catch where reused {
                continue  // the kept one had been closed by the server
            }
        }
    }

    private func connect(_ location: HTTPLocation, _ state: inout HTTPClientState) throws(ServiceError) -> HTTPConnection {
        let viaProxy = usesProxy(for: location.host)
        let (host, port) = viaProxy ? proxy! : (location.host, location.port)
        let connection = try HTTPConnection(host: host, port: port, connectTimeout: min(options.stallTimeout, 30),
                                            stallTimeout: options.stallTimeout)
        guard location.secure else { return connection }
        if viaProxy {
            let authority = "\(location.host.contains(":") ? "[\(location.host)]" : location.host):\(location.port)"
            try connection.send("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: parrot\r\n\r\n")
            guard let head = try HTTPResponseHead.read(from: connection), (200..<300).contains(head.status) else {
                throw ServiceError(errno: ECONNREFUSED, message: "proxy \(host):\(port) refused CONNECT \(authority)")
            }
        }
        if state.tls == nil { state.tls = try TLSContext(caFile: options.caFile, label: "https") }
        do throws(ServiceError) {
            try connection.startTLS(context: state.tls!, host: location.host)
        } catch {
            if error.errno == EACCES && !state.warned.contains(location.origin) {
                state.warned.insert(location.origin)
                options.warn("\(error.message)" + (options.caFile == nil ? " (--ca-file names a CA to trust)" : ""))
            }
            throw error
        }
        return connection
    }
}
