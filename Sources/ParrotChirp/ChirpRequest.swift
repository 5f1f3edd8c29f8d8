#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// One request line, exactly as it goes on the wire (without its newline).
/// The factories are the only place that knows each command's argument order.
public struct ChirpRequest: Equatable, Sendable, CustomStringConvertible {
    /// The line with its newline, as sent (made once: requests go out on
    /// every remote call).
    let text: String

    /// The server closes the connection on a line of 1024 or more characters
    /// (newline excluded; checked against chirp_server 9.9).
    static let maxLineLength = 1023

    /// The verb and one to three words (no variadic array: a request is
    /// made on every remote call, and building it was a seventh of the
    /// agent's own time for an answered read).
    private init(_ verb: String, _ first: String, _ second: String? = nil, _ third: String? = nil) throws(ServiceError) {
        var text = ""
        text.reserveCapacity(verb.utf8.count + first.utf8.count + (second?.utf8.count ?? 0) + (third?.utf8.count ?? 0) + 4)
        text.append(verb)
        text.append(" ")
        text.append(first)
        if let second {
            text.append(" ")
            text.append(second)
        }
        if let third {
            text.append(" ")
            text.append(third)
        }
        guard text.utf8.count <= ChirpRequest.maxLineLength else {
            throw ServiceError(errno: ENAMETOOLONG, message: "chirp: request too long for the server (\(text.utf8.count) bytes): \(text.prefix(60))...")
        }
        text.append("\n")
        self.text = text
    }

    public var line: String { String(text.dropLast()) }
    public var bytes: [UInt8] { Array(text.utf8) }
    public var description: String { line }

    private static func path(_ path: String) -> String { ChirpPathEncoding.encode(path) }

    // Open files.
    public static func open(_ path: String, flags: String, mode: UInt32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("open", Self.path(path), flags, String(mode))
    }
    public static func close(_ fd: Int64) throws(ServiceError) -> ChirpRequest { try ChirpRequest("close", String(fd)) }
    public static func pread(_ fd: Int64, length: Int, offset: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("pread", String(fd), String(length), String(offset))
    }
    /// Followed by exactly `length` raw bytes, with no go-ahead.
    public static func pwrite(_ fd: Int64, length: Int, offset: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("pwrite", String(fd), String(length), String(offset))
    }
    public static func fstat(_ fd: Int64) throws(ServiceError) -> ChirpRequest { try ChirpRequest("fstat", String(fd)) }
    public static func fchmod(_ fd: Int64, mode: UInt32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("fchmod", String(fd), String(mode))
    }
    public static func ftruncate(_ fd: Int64, length: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("ftruncate", String(fd), String(length))
    }

    // Paths and metadata.
    public static func stat(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("stat", Self.path(path)) }
    public static func lstat(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("lstat", Self.path(path)) }
    public static func statfs(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("statfs", Self.path(path)) }
    public static func access(_ path: String, mode: Int32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("access", Self.path(path), String(mode))
    }
    public static func getdir(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("getdir", Self.path(path)) }
    public static func getlongdir(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("getlongdir", Self.path(path)) }
    public static func mkdir(_ path: String, mode: UInt32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("mkdir", Self.path(path), String(mode))
    }
    public static func rmdir(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("rmdir", Self.path(path)) }
    public static func unlink(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("unlink", Self.path(path)) }
    public static func rename(_ from: String, to: String) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("rename", Self.path(from), Self.path(to))
    }
    public static func link(_ existing: String, to newPath: String) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("link", Self.path(existing), Self.path(newPath))
    }
    /// The server stores the target exactly as sent (it does not decode it),
    /// so it goes raw and must be one word.
    public static func symlink(target: String, at path: String) throws(ServiceError) -> ChirpRequest {
        guard !target.isEmpty, !target.utf8.contains(where: { $0 <= 0x20 }) else {
            throw ServiceError(errno: ENOTSUP, message: "chirp symlink: a target with blanks or control characters cannot be sent: \(target)")
        }
        return try ChirpRequest("symlink", target, Self.path(path))
    }
    public static func readlink(_ path: String, maxLength: Int) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("readlink", Self.path(path), String(maxLength))
    }
    public static func truncate(_ path: String, length: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("truncate", Self.path(path), String(length))
    }
    public static func chmod(_ path: String, mode: UInt32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("chmod", Self.path(path), String(mode))
    }
    public static func chown(_ path: String, uid: UInt32, gid: UInt32) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("chown", Self.path(path), String(uid), String(gid))
    }
    /// Whole seconds: the protocol carries no fractions.
    public static func utime(_ path: String, access: Int64, modification: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("utime", Self.path(path), String(access), String(modification))
    }

    // Whole files and identity.
    public static func getfile(_ path: String) throws(ServiceError) -> ChirpRequest { try ChirpRequest("getfile", Self.path(path)) }
    /// The data follows only after a go-ahead reply.
    public static func putfile(_ path: String, mode: UInt32, length: Int64) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("putfile", Self.path(path), String(mode), String(length))
    }
    public static func hash(_ algorithm: ChecksumAlgorithm, _ path: String) throws(ServiceError) -> ChirpRequest {
        try ChirpRequest("hash", algorithm.rawValue, Self.path(path))
    }
    public static func whoami(maxLength: Int) throws(ServiceError) -> ChirpRequest { try ChirpRequest("whoami", String(maxLength)) }
}
