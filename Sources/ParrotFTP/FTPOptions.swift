import ParrotServices

/// How the FTP and FTPS drivers reach servers and log in.
public struct FTPOptions: Sendable {
    /// PEM file of the certificate authorities FTPS servers are checked
    /// against (`--ca-file`, shared with HTTPS); nil: the system's store.
    public var caFile: String?
    /// Passwords by host and user (`--netrc`, else `$HOME/.netrc` if present).
    public var credentials = FTPCredentials()
    /// `PARROT_FTP_PASSWORD`: the password of the user named in the path
    /// (used when the credentials file has none for that host and user).
    public var environmentPassword: String?
    /// Bounds opening a control or data connection.
    public var connectTimeout: Double = 30
    /// A stalled connection (no byte for this long) has failed.
    public var stallTimeout: Double = 60
    /// Idle control connections kept per server.
    public var idleConnections = 3
    /// Said once per server to the person running the job: what a program
    /// only sees as an errno (a certificate refused, a login refused).
    public var warn: @Sendable (String) -> Void = { _ in }

    public init() {}
}
