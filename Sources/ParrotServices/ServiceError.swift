#if canImport(Glibc)
import Glibc
#endif

/// The one error every file service throws: the errno a local filesystem would
/// give in the same situation, and a message for logs.
public struct ServiceError: Error, Equatable, Sendable, CustomStringConvertible {
    public let errno: Int32
    public let message: String

    public init(errno: Int32, message: String = "") {
        self.errno = errno
        self.message = message
    }

    /// The error of a failed POSIX call: the current `errno`, described.
    public static func posix(_ operation: String, _ path: String = "", errno code: Int32 = Glibc.errno) -> ServiceError {
        ServiceError(errno: code, message: "\(operation)\(path.isEmpty ? "" : " \(path)"): \(describe(code))")
    }

    public var description: String {
        message.isEmpty ? ServiceError.describe(errno) : message
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
