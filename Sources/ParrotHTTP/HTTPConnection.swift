#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// One TCP (and maybe TLS) connection to a server or proxy, with a read
/// buffer for the response heads. Used by one request at a time.
final class HTTPConnection {
    let fd: Int32
    private var tls: TLSSession?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var start = 0, end = 0
    /// Some byte of a response has been read through it (a failure before
    /// that on a reused connection is the server closing it while idle).
    private(set) var requestsCompleted = 0
    /// A transfer failed or the server said it closes: never reused.
    var isBroken = false

    /// Connects to `host:port`, bounded by `connectTimeout`; reads and writes
    /// then time out after `stallTimeout` without progress.
    init(host: String, port: UInt16, connectTimeout: Double, stallTimeout: Double) throws(ServiceError) {
        fd = try TCPSocket.connect(host: host, port: port, deadline: .after(seconds: connectTimeout),
                                   stallTimeout: stallTimeout, label: "http")
    }

    deinit {
        tls?.shutdown()
        tls = nil
        Glibc.close(fd)
        buffer.deallocate()
    }

    /// Starts TLS on the connection (after a proxy's CONNECT, if any).
    func startTLS(context: TLSContext, host: String) throws(ServiceError) {
        tls = try TLSSession(context: context, fd: fd, host: host)
    }

    func send(_ text: String) throws(ServiceError) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            var failure: ServiceError?
            let count = bytes.withUnsafeBytes { raw -> Int in
                let rest = UnsafeRawBufferPointer(rebasing: raw[done...])
                do throws(ServiceError) {
                    if let tls { return try tls.write(rest) }
                } catch {
                    failure = error
                    return 0
                }
                let count = Glibc.send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                if count < 0 && errno != EINTR {
                    failure = .posix("send", errno: errno == EAGAIN ? ETIMEDOUT : errno)
                }
                return max(count, 0)
            }
            if let failure {
                isBroken = true
                throw failure
            }
            done += count
        }
    }

    /// Bytes of the stream, buffered first; 0 at its end.
    func receive(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        if start < end {
            let count = min(target.count, end - start)
            target.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count)
            start += count
            return count
        }
        return try rawReceive(into: target)
    }

    private func rawReceive(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        do throws(ServiceError) {
            if let tls { return try tls.read(into: target) }
            while true {
                let count = recv(fd, target.baseAddress, target.count, 0)
                if count >= 0 { return count }
                if errno == EINTR { continue }
                throw ServiceError.posix("recv", errno: errno == EAGAIN ? ETIMEDOUT : errno)
            }
        } catch {
            isBroken = true
            throw error
        }
    }

    /// One line ending in LF (CR dropped); nil at the end of the stream.
    func readLine(limit: Int = 16 << 10) throws(ServiceError) -> String? {
        var line: [UInt8] = []
        while true {
            if start == end {
                start = 0
                end = try rawReceive(into: buffer)
                if end == 0 {
                    isBroken = true
                    return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
                }
            }
            if let newline = buffer[start..<end].firstIndex(of: UInt8(ascii: "\n")) {
                line.append(contentsOf: buffer[start..<newline])
                start = newline + 1
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            line.append(contentsOf: buffer[start..<end])
            start = end
            guard line.count <= limit else {
                isBroken = true
                throw ServiceError(errno: EPROTO, message: "a response line longer than \(limit) bytes")
            }
        }
    }

    func completed() { requestsCompleted += 1 }
}
