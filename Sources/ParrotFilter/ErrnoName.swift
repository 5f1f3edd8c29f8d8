#if canImport(Glibc)
import Glibc
#endif

/// Symbolic errno names, for messages and the debug log ("ENOENT", not "2").
public enum ErrnoName {
    static let table: [(String, Int32)] = [
        ("EPERM", EPERM), ("ENOENT", ENOENT), ("ESRCH", ESRCH), ("EINTR", EINTR), ("EIO", EIO),
        ("ENXIO", ENXIO), ("E2BIG", E2BIG), ("ENOEXEC", ENOEXEC), ("EBADF", EBADF),
        ("ECHILD", ECHILD), ("EAGAIN", EAGAIN), ("ENOMEM", ENOMEM), ("EACCES", EACCES),
        ("EFAULT", EFAULT), ("EBUSY", EBUSY), ("EEXIST", EEXIST), ("EXDEV", EXDEV),
        ("ENODEV", ENODEV), ("ENOTDIR", ENOTDIR), ("EISDIR", EISDIR), ("EINVAL", EINVAL),
        ("ENFILE", ENFILE), ("EMFILE", EMFILE), ("ENOTTY", ENOTTY), ("ETXTBSY", ETXTBSY),
        ("EFBIG", EFBIG), ("ENOSPC", ENOSPC), ("ESPIPE", ESPIPE), ("EROFS", EROFS),
        ("EMLINK", EMLINK), ("EPIPE", EPIPE), ("ERANGE", ERANGE), ("ENAMETOOLONG", ENAMETOOLONG),
        ("ENOSYS", ENOSYS), ("ENOTEMPTY", ENOTEMPTY), ("ELOOP", ELOOP), ("ENODATA", ENODATA),
        ("ENOTSOCK", ENOTSOCK), ("EOPNOTSUPP", EOPNOTSUPP), ("EAFNOSUPPORT", EAFNOSUPPORT),
        ("EADDRINUSE", EADDRINUSE), ("ECONNREFUSED", ECONNREFUSED), ("ETIMEDOUT", ETIMEDOUT),
        ("ECONNRESET", ECONNRESET), ("EHOSTUNREACH", EHOSTUNREACH), ("EDQUOT", EDQUOT),
        ("ESTALE", ESTALE), ("ENOTCONN", ENOTCONN), ("ENOTSUP", ENOTSUP), ("ECANCELED", ECANCELED),
        ("ERESTARTSYS", 512), ("ERESTARTNOINTR", 513), ("ERESTARTNOHAND", 514),
        ("ERESTART_RESTARTBLOCK", 516),
    ]

    public static func value(of name: String) -> Int32? {
        table.first { $0.0 == name }?.1
    }

    public static func name(of value: Int32) -> String {
        table.first { $0.1 == value }?.0 ?? "errno \(value)"
    }
}
