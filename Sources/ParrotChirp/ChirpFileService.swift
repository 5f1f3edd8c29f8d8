#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// The Chirp driver: one server, one connection reused by every operation
/// (protocols/chirp.md).
public final class ChirpFileService: FileService {
    /// pwrite at any offset, sent ahead of its reply (ChirpSentAhead.swift).
    public var writesAtAnyOffset: Bool { true }
    public var readsInRoundTrips: Bool { true }
    public var listsWithStatus: Bool { true }
    public var hasSymbolicLinks: Bool { true }
    public let host: String
    public let port: UInt16
    let session: ChirpSession

    /// The protocol's largest pread or pwrite (the server's request buffer).
    static let maxTransfer = 16 << 20

    public var endpoint: String? { Self.endpoint(host: host, port: port) }

    public init(host: String, port: UInt16 = 9094, options: ChirpOptions = ChirpOptions()) {
        self.host = host
        self.port = port
        session = ChirpSession(host: host, port: port, options: options)
    }

    /// The subject the server knows this client as, e.g. `unix:root`.
    public func whoami() throws(ServiceError) -> String {
        try session.perform("whoami", idempotent: true) { (connection, _) throws(ServiceError) in
            String(decoding: try connection.callForBytes(.whoami(maxLength: 4096), limit: 4096), as: UTF8.self)
        }
    }

    public func stat(_ path: String) throws(ServiceError) -> FileStatus {
        try status(.stat(path))
    }

    public func lstat(_ path: String) throws(ServiceError) -> FileStatus {
        try status(.lstat(path))
    }

    public func statfs(_ path: String) throws(ServiceError) -> FileSystemStatus {
        let request = try ChirpRequest.statfs(path)
        return try session.perform("statfs", idempotent: true) { (connection, _) throws(ServiceError) in
            try connection.call(request)
            return try connection.readFileSystemStatus()
        }
    }

    public func access(_ path: String, mode: Int32) throws(ServiceError) {
        do throws(ServiceError) {
            try simple(.access(path, mode: mode))
        } catch where error.errno == EACCES {
            // Servers check the ACL before the name: a missing file is ENOENT
            // locally, which programs rely on (git probing for hooks).
            do throws(ServiceError) { _ = try lstat(path) } catch where error.errno == ENOENT { throw error }
            throw error
        }
    }

    public func mkdir(_ path: String, mode: UInt32) throws(ServiceError) {
        try simple(.mkdir(path, mode: mode), idempotent: false)
    }

    public func rmdir(_ path: String) throws(ServiceError) {
        try simple(.rmdir(path), idempotent: false)
    }

    public func unlink(_ path: String) throws(ServiceError) {
        try simple(.unlink(path), idempotent: false)
    }

    public func rename(_ from: String, to: String) throws(ServiceError) {
        try simple(.rename(from, to: to), idempotent: false)
    }

    public func link(_ existing: String, to newPath: String) throws(ServiceError) {
        try simple(.link(existing, to: newPath), idempotent: false)
    }

    public func symlink(target: String, at path: String) throws(ServiceError) {
        try simple(.symlink(target: target, at: path), idempotent: false)
    }

    public func readlink(_ path: String) throws(ServiceError) -> String {
        let limit = Int(PATH_MAX)
        let request = try ChirpRequest.readlink(path, maxLength: limit)
        return try session.perform("readlink", idempotent: true) { (connection, _) throws(ServiceError) in
            String(decoding: try connection.callForBytes(request, limit: limit), as: UTF8.self)
        }
    }

    public func truncate(_ path: String, length: Int64) throws(ServiceError) {
        try simple(.truncate(path, length: length))
    }

    public func chmod(_ path: String, mode: UInt32) throws(ServiceError) {
        try simple(.chmod(path, mode: mode))
    }

    /// Accepted and ignored by the server: owners are the server's business.
    public func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) {
        try simple(.chown(path, uid: uid, gid: gid))
    }

    /// Whole seconds: the protocol has no finer times.
    public func utimes(_ path: String, access: Timestamp, modification: Timestamp) throws(ServiceError) {
        try simple(.utime(path, access: access.seconds, modification: modification.seconds))
    }

    private func status(_ request: ChirpRequest) throws(ServiceError) -> FileStatus {
        try session.perform(request.line, idempotent: true) { (connection, _) throws(ServiceError) in
            try connection.call(request)
            return try connection.readStatus()
        }
    }

    /// A request whose whole reply is its result.
    private func simple(_ request: ChirpRequest, idempotent: Bool = true) throws(ServiceError) {
        try session.perform(request.line, idempotent: idempotent) { (connection, _) throws(ServiceError) in
            _ = try connection.call(request)
        }
    }
}

extension ChirpFileService {
    /// The server a path's authority names: `host`, `host:port` or `[v6addr]:port`
    /// (9094 when no port is given, as in cctools).
    public convenience init(authority: String, options: ChirpOptions = ChirpOptions()) throws(ServiceError) {
        var host = Substring(authority), port: UInt16 = 9094
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = UInt16(rest.dropFirst()) else { throw Self.badAuthority(authority) }
                port = number
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = UInt16(host[host.index(after: colon)...]), number > 0 else { throw Self.badAuthority(authority) }
            port = number
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw Self.badAuthority(authority) }
        self.init(host: String(host), port: port, options: options)
    }

    /// A name that cannot be a server is a name that does not exist.
    private static func badAuthority(_ authority: String) -> ServiceError {
        ServiceError(errno: ENOENT, message: "chirp: '\(authority)' is not host[:port]")
    }
}
