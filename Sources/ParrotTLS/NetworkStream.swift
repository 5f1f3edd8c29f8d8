#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// A TCP connection to a server, in the clear or under TLS, with a read
/// buffer for protocol lines: HTTP connections, FTP control connections
/// (read line by line) and FTP data connections (large blocks) are all one.
public final class NetworkStream {
    public let fd: Int32
    public private(set) var tls: TLSSession?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
    private var start = 0, end = 0
    /// Sending or receiving failed, or the server closed: never used again.
    public var isBroken = false

    /// Connects to `host:port`, bounded by `connectTimeout`; reads and writes
    /// then time out after `stallTimeout` without progress.
    public init(host: String, port: UInt16, connectTimeout: Double, stallTimeout: Double, label: String) throws(ServiceError) {
        fd = try TCPSocket.connect(host: host, port: port, deadline: .after(seconds: connectTimeout),
                                   stallTimeout: stallTimeout, label: label)
    }

    deinit {
        tls = nil
        Glibc.close(fd)
        buffer.deallocate()
    }

    public func startTLS(context: TLSContext, host: String, resuming other: TLSSession? = nil) throws(ServiceError) {
        do throws(ServiceError) {
            tls = try TLSSession(context: context, fd: fd, host: host, resuming: other)
        } catch {
            isBroken = true
            throw error
        }
    }

    /// Ends an upload so the server sees a complete transfer: close_notify
    /// under TLS, FIN, then waits for the server's end. Closing with bytes
    /// still unread (TLS 1.3 session tickets the server sent) would reset
    /// the connection and lose the data the server has not read yet.
    public func finish() {
        tls?.shutdown()
        Glibc.shutdown(fd, Int32(SHUT_WR))
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { scratch.deallocate() }
        while let count = try? rawReceive(into: scratch), count > 0 {}
    }

    public func send(_ text: String) throws(ServiceError) {
        let bytes = Array(text.utf8)
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { copy.deallocate() }
        copy.copyBytes(from: bytes)
        try sendAll(UnsafeRawBufferPointer(copy))
    }

    public func sendAll(_ bytes: UnsafeRawBufferPointer) throws(ServiceError) {
        var done = 0
        do throws(ServiceError) {
            while done < bytes.count {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
                if let tls {
                    done += try tls.write(rest)
                    continue
                }
                let count = Glibc.send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                if count >= 0 { done += count; continue }
                if errno == EINTR { continue }
                throw ServiceError.posix("send", errno: errno == EAGAIN ? ETIMEDOUT : errno)
            }
        } catch {
            isBroken = true
            throw error
        }
    }

    /// Bytes of the stream, buffered ones first; 0 at its end.
    public func receive(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        if start < end {
            let count = min(target.count, end - start)
            target.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count)
            start += count
            return count
        }
        return try rawReceive(into: target)
    }

    /// Fills `target` unless the stream ends first.
    public func receiveFully(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        var done = 0
        while done < target.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: target[done...]))
            if count == 0 { break }
            done += count
        }
        return done
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
    public func readLine(limit: Int = 64 << 10) throws(ServiceError) -> String? {
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
                throw ServiceError(errno: EPROTO, message: "a reply line longer than \(limit) bytes")
            }
        }
    }

    /// An idle control connection has something to say (a 421 before
    /// closing, or the close itself): it is no use for a new command.
    public var hasPendingInput: Bool {
        if start < end { return true }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) != 0
    }
}
