#if canImport(Glibc)
import Glibc
#endif

/// A failed operation, as the errno a local filesystem gave (or would give).
/// It reaches the client as the Chirp code of that errno.
struct ChirpFailure: Error, Equatable {
    let errno: Int32

    init(_ errno: Int32) { self.errno = errno }

    /// The errno of the last failed libc call.
    static var last: ChirpFailure { ChirpFailure(Glibc.errno) }

    var code: Int64 { ChirpResultCode.code(forErrno: errno) }
}

/// The result codes of protocols/chirp.md §8, from the server's side.
enum ChirpResultCode {
    static let invalidRequest: Int64 = -8

    /// The exact table of the reference server (chirp_server.c, errno_to_chirp).
    static func code(forErrno errno: Int32) -> Int64 {
        switch errno {
        case EACCES, EPERM, EROFS: -2
        case ENOENT: -3
        case EEXIST: -4
        case EFBIG: -5
        case ENOSPC, EDQUOT: -6
        case ENOMEM: -7
        case ENODATA, ENOSYS, EINVAL: -8  // ENODATA is Linux's ENOATTR
        case EMFILE, ENFILE: -9
        case EBUSY: -10
        case EAGAIN: -11
        case EBADF: -12
        case EISDIR: -13
        case ENOTDIR: -14
        case ENOTEMPTY: -15
        case EXDEV: -16
        case EHOSTUNREACH: -20
        case ESRCH: -21
        case ESPIPE: -22
        case ENOTSUP: -23
        case ENAMETOOLONG: -24
        default: -127
        }
    }
}

/// Runs a libc call that returns -1 and sets errno on failure, retrying EINTR.
@discardableResult
func posixCall<T: BinaryInteger>(_ call: () -> T) throws(ChirpFailure) -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        if Glibc.errno != EINTR { throw ChirpFailure.last }
    }
}
