import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ports on 127.0.0.1 for the servers the tests start.
enum LoopbackPort {
    /// A port nothing listens on now: the kernel's choice for a bind to 0,
    /// released (for servers that cannot be told to take any port).
    static func free() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = address(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Whether something accepts connections on `port`.
    static func accepts(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = address(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// The port a starting server wrote to `file`; nil if `server` ended or
    /// 20 s passed first.
    static func written(to file: String, by server: Process) -> UInt16? {
        awaiting(server) {
            (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Whether `server` came to accept connections on `port` within 20 s.
    static func accepted(_ port: UInt16, by server: Process) -> Bool {
        awaiting(server) { accepts(port) ? true : nil } ?? false
    }

    private static func awaiting<T>(_ server: Process, _ ready: () -> T?) -> T? {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && server.isRunning {
            if let value = ready() { return value }
            usleep(10_000)
        }
        return nil
    }

    static func address(_ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
