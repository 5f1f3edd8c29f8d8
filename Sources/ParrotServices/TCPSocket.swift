#if canImport(Glibc)
import Glibc
#endif

/// Opening the TCP connection to a server, for every driver: each address of
/// the host in turn, each attempt bounded by the deadline.
public enum TCPSocket {
    /// A connected socket with Nagle off (a request and its payload must not
    /// wait for each other's acknowledgement), blocking, every send and
    /// receive bounded by `stallTimeout`. `label` names the service in errors.
    public static func connect(host: String, port: UInt16, deadline: Deadline, stallTimeout: Double,
                               label: String) throws(ServiceError) -> Int32 {
        let fd = try connect(host: host, port: port, deadline: deadline, label: label)
        makeBlocking(fd, stallTimeout: stallTimeout)
        return fd
    }

    private static func connect(host: String, port: UInt16, deadline: Deadline, label: String) throws(ServiceError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            // An unknown server is a name that does not exist, like a missing directory.
            let code = status == EAI_AGAIN ? EAGAIN : status == EAI_SYSTEM ? errno : ENOENT
            throw ServiceError(errno: code, message: "\(label) \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var failure = ServiceError(errno: EHOSTUNREACH, message: "\(label) \(host):\(port): no address")
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor?.pointee {
            cursor = info.ai_next
            do throws(ServiceError) {
                return try attempt(info, deadline: deadline)
            } catch {
                failure = ServiceError(errno: error.errno, message: "\(label) \(host):\(port): connect: \(error)")
            }
        }
        throw failure
    }

    private static func attempt(_ info: addrinfo, deadline: Deadline) throws(ServiceError) -> Int32 {
        let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        guard fd >= 0 else { throw .posix("socket") }
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return fd }
        guard errno == EINPROGRESS else {
            let code = errno
            Glibc.close(fd)
            throw .posix("connect", errno: code)
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let ready = poll(&poller, 1, deadline.pollMilliseconds)
            if ready > 0 { break }
            if ready < 0 && errno == EINTR { continue }
            Glibc.close(fd)
            throw ServiceError(errno: ETIMEDOUT, message: "connect: timed out")
        }
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        guard code == 0 else {
            Glibc.close(fd)
            throw .posix("connect", errno: code)
        }
        return fd
    }

    /// Connected: blocking from now on, each send and receive bounded by
    /// `stallTimeout` (one system call per reply instead of recv, poll, recv).
    private static func makeBlocking(_ fd: Int32, stallTimeout: Double) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var limit = timeval(tv_sec: Int(stallTimeout), tv_usec: Int((stallTimeout - stallTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }
}
