#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// The negative result codes of the Chirp protocol and the errno each one means
/// to a program (protocols/chirp.md §8). Where the reference client leaves a
/// code unmapped or answers ECONNRESET for a server-side condition, this table
/// gives the errno the server itself started from: the reply arrived, so the
/// connection is fine and ECONNRESET would be a lie.
public enum ChirpErrorCode: Int64, CaseIterable, Sendable {
    case notAuthenticated = -1
    case notAuthorized = -2
    case doesntExist = -3
    case alreadyExists = -4
    case tooBig = -5
    case noSpace = -6
    case noMemory = -7
    case invalidRequest = -8
    case tooManyOpen = -9
    case busy = -10
    case tryAgain = -11
    case badFD = -12
    case isDirectory = -13
    case notDirectory = -14
    case notEmpty = -15
    case crossDeviceLink = -16
    case offline = -17
    case timedOut = -18
    case disconnected = -19
    case groupUnreachable = -20
    case noSuchJob = -21
    case isAPipe = -22
    case notSupported = -23
    case nameTooLong = -24
    case unknown = -127

    /// Codes the table does not know (below -24) are UNKNOWN.
    public init(result: Int64) {
        self = ChirpErrorCode(rawValue: result) ?? .unknown
    }

    public var errno: Int32 {
        switch self {
        case .notAuthenticated, .notAuthorized: EACCES
        case .doesntExist: ENOENT
        case .alreadyExists: EEXIST
        case .tooBig: EFBIG
        case .noSpace: ENOSPC
        case .noMemory: ENOMEM
        case .invalidRequest: EINVAL
        case .tooManyOpen: EMFILE
        case .busy: EBUSY
        case .tryAgain, .offline: EAGAIN
        case .badFD: EBADF
        case .isDirectory: EISDIR
        case .notDirectory: ENOTDIR
        case .notEmpty: ENOTEMPTY
        case .crossDeviceLink: EXDEV
        case .timedOut: ETIMEDOUT
        case .disconnected: ECONNRESET
        case .groupUnreachable: EHOSTUNREACH
        case .noSuchJob: ESRCH
        case .isAPipe: ESPIPE
        case .notSupported: ENOTSUP
        case .nameTooLong: ENAMETOOLONG
        // The server sends UNKNOWN for every errno it has no code for (ELOOP,
        // ENODATA, ...): there is nothing more precise to say.
        case .unknown: EIO
        }
    }

    public func error(_ request: String) -> ServiceError {
        ServiceError(errno: errno, message: "chirp \(request): \(self) (\(rawValue))")
    }
}
