#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// A response's status line and headers.
struct HTTPResponseHead: Sendable {
    var version: String
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]

    /// The first value of a header (names compared without case).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The server keeps the connection open after this response.
    var keepsAlive: Bool {
        let connection = header("Connection")?.lowercased() ?? ""
        if connection.contains("close") { return false }
        return version == "HTTP/1.1" || connection.contains("keep-alive")
    }

    var isRedirect: Bool { [301, 302, 303, 307, 308].contains(status) }

    /// Reads a head, skipping 1xx interim responses; nil when the stream
    /// ended before any byte of it.
    static func read(from connection: HTTPConnection) throws(ServiceError) -> HTTPResponseHead? {
        while true {
            guard let statusLine = try connection.readLine() else { return nil }
            let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) else {
                connection.isBroken = true
                throw ServiceError(errno: EPROTO, message: "not an HTTP response: \(statusLine.prefix(80))")
            }
            var headers: [(String, String)] = []
            while true {
                guard let line = try connection.readLine() else {
                    throw ServiceError(errno: ECONNRESET, message: "connection closed in the response headers")
                }
                if line.isEmpty { break }
                guard headers.count < 200, let colon = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces()))
            }
            let head = HTTPResponseHead(version: String(parts[0]), status: status,
                                        reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
            if status >= 100 && status < 200 { continue }
            return head
        }
    }

    /// Seconds since the epoch of an HTTP date (RFC 1123, the form servers
    /// send: `Sun, 06 Nov 1994 08:49:37 GMT`).
    static func parseDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let day = Int32(parts[1]),
              let month = months.firstIndex(of: String(parts[2])), let year = Int32(parts[3]) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3 else { return nil }
        var time = tm()
        time.tm_year = year - 1900
        time.tm_mon = Int32(month)
        time.tm_mday = day
        time.tm_hour = clock[0]
        time.tm_min = clock[1]
        time.tm_sec = clock[2]
        return Int64(timegm(&time))
    }
}

/// The body of one response, framed as its head says.
final class HTTPBody {
    enum Framing: Equatable { case length(Int64), chunked, untilClose }

    let connection: HTTPConnection
    private var framing: Framing
    private var remaining: Int64 = 0
    private var chunkLeft: Int64 = 0
    private(set) var isComplete = false
    private(set) var received: Int64 = 0

    init(connection: HTTPConnection, head: HTTPResponseHead, method: String) throws(ServiceError) {
        self.connection = connection
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            framing = .length(0)
        } else if head.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            framing = .chunked
        } else if let text = head.header("Content-Length") {
            guard let length = Int64(text), length >= 0 else {
                connection.isBroken = true
                throw ServiceError(errno: EPROTO, message: "bad Content-Length '\(text)'")
            }
            framing = .length(length)
        } else {
            framing = .untilClose
            connection.isBroken = true  // its end is the connection's
        }
        if case .length(let length) = framing {
            remaining = length
            isComplete = length == 0
        }
    }

    /// The declared length, when the head gives one.
    var declaredLength: Int64? {
        if case .length(let length) = framing { return length }
        return nil
    }

    /// Some bytes of the body; 0 at its end. A body cut short throws ECONNRESET.
    func read(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        guard !isComplete, target.count > 0 else { return 0 }
        let count: Int
        switch framing {
        case .length:
            count = try connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: target[..<Int(min(Int64(target.count), remaining))]))
            if count == 0 { throw truncated() }
            remaining -= Int64(count)
            if remaining == 0 { isComplete = true }
        case .untilClose:
            count = try connection.receive(into: target)
            if count == 0 { isComplete = true }
        case .chunked:
            if chunkLeft <= 0 {
                if chunkLeft < 0 {
                    guard try connection.readLine() == "" else { throw truncated() }
                }
                guard let line = try connection.readLine() else { throw truncated() }
                guard let size = Int64(line.prefix { $0 != ";" }.trimmingSpaces(), radix: 16), size >= 0 else {
                    connection.isBroken = true
                    throw ServiceError(errno: EPROTO, message: "bad chunk size '\(line.prefix(40))'")
                }
                if size == 0 {
                    // Trailers, then the empty line.
                    while let trailer = try connection.readLine(), !trailer.isEmpty {}
                    isComplete = true
                    return 0
                }
                chunkLeft = size
            }
            count = try connection.receive(into: UnsafeMutableRawBufferPointer(rebasing: target[..<Int(min(Int64(target.count), chunkLeft))]))
            if count == 0 { throw truncated() }
            chunkLeft -= Int64(count)
            if chunkLeft == 0 { chunkLeft = -1 }  // its CRLF is still to read
        }
        received += Int64(count)
        return count
    }

    /// Fills `target` unless the body ends first; returns how much it holds.
    func readFully(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        var done = 0
        while done < target.count {
            let count = try read(into: UnsafeMutableRawBufferPointer(rebasing: target[done...]))
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Skips `count` bytes; false if the body ended first.
    func skip(_ count: Int64) throws(ServiceError) -> Bool {
        var left = count
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { scratch.deallocate() }
        while left > 0 {
            let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<Int(min(Int64(scratch.count), left))]))
            if got == 0 { return false }
            left -= Int64(got)
        }
        return true
    }

    /// Reads the rest so the connection can carry the next request, when
    /// that is cheap (up to `limit` bytes); otherwise the connection is dropped.
    func finish(limit: Int64 = 256 << 10) {
        guard !isComplete else { return }
        if let length = declaredLength, remaining > limit || length < 0 {
            connection.isBroken = true
            return
        }
        let before = received
        do throws(ServiceError) {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { scratch.deallocate() }
            while !isComplete {
                if received - before > limit { connection.isBroken = true; return }
                _ = try read(into: scratch)
            }
        } catch {
            connection.isBroken = true
        }
    }

    private func truncated() -> ServiceError {
        connection.isBroken = true
        return ServiceError(errno: ECONNRESET, message: "connection closed after \(received) bytes of the body")
    }
}
