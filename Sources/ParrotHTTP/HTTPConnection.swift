#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import ParrotTLS

/// One TCP (and maybe TLS) connection to a server or proxy, with a read
/// buffer for the response heads. Used by one request at a time.
final class HTTPConnection {
    private let stream: NetworkStream
    /// Some byte of a response has been read through it (a failure before
    /// that on a reused connection is the server closing it while idle).
    private(set) var requestsCompleted = 0
    /// A transfer failed or the server said it closes: never reused.
    var isBroken: Bool {
        get { stream.isBroken }
        set { stream.isBroken = newValue }
    }

    /// Connects to `host:port`, bounded by `connectTimeout`; reads and writes
    /// then time out after `stallTimeout` without progress.
    init(host: String, port: UInt16, connectTimeout: Double, stallTimeout: Double) throws(ServiceError) {
        stream = try NetworkStream(host: host, port: port, connectTimeout: connectTimeout, stallTimeout: stallTimeout, label: "http")
    }

    deinit { stream.tls?.shutdown() }

    /// Starts TLS on the connection (after a proxy's CONNECT, if any).
    func startTLS(context: TLSContext, host: String) throws(ServiceError) {
        try stream.startTLS(context: context, host: host)
    }

    func send(_ text: String) throws(ServiceError) { try stream.send(text) }

    /// Bytes of the stream, buffered first; 0 at its end.
    func receive(into target: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        try stream.receive(into: target)
    }

    /// One line ending in LF (CR dropped); nil at the end of the stream.
    func readLine(limit: Int = 16 << 10) throws(ServiceError) -> String? {
        try stream.readLine(limit: limit)
    }

    func completed() { requestsCompleted += 1 }
}
