import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A raw Chirp connection for tests that must send exactly the bytes they
/// choose (malformed lines, wrong lengths). Every read gives up after
/// `timeout` seconds, so a server that hangs fails the test instead.
final class ChirpWireClient {
    private let fd: Int32
    private var buffer: [UInt8] = []

    struct Closed: Error {}

    init(port: UInt16, timeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw Closed() }
    }

    deinit { close(fd) }

    /// Logs in with the `address` method; returns the subject.
    @discardableResult
    func authenticate() throws -> String {
        try send("address\n")
        for expected in ["yes", "yes", "yes", "address"] where try line() != expected { throw Closed() }
        return "address:" + (try line())
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Closed() }
            done += n
        }
    }

    /// Sends one request line and returns the result line as a number.
    func request(_ line: String) throws -> Int64 {
        try send(line + "\n")
        guard let value = Int64(try self.line()) else { throw Closed() }
        return value
    }

    func line() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return text
            }
            try fill()
        }
    }

    func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        defer { buffer.removeSubrange(..<count) }
        return Array(buffer[..<count])
    }

    /// True when the server has closed the connection (reads end), false on a timeout.
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw Closed() }
        buffer += chunk[..<n]
    }
}
