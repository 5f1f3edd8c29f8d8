import ParrotServices

/// How the HTTP and HTTPS drivers reach servers.
public struct HTTPOptions: Sendable {
    /// PEM file of the certificate authorities HTTPS servers are checked
    /// against (`--ca-file`); nil: the system's store.
    public var caFile: String?
    /// `host:port` of an HTTP proxy (`-p`, else HTTP_PROXY / http_proxy).
    public var proxy: String?
    /// Hosts reached without the proxy (NO_PROXY): names, `.suffix`es, `*`.
    /// Loopback addresses never go through it.
    public var noProxy: [String] = []
    /// Seconds to keep retrying a server that answers 5xx or drops the connection.
    public var retryTimeout: Double = 300
    /// Tries of one request before its failure is the program's.
    public var attempts = 4
    public var initialBackoff = 0.1
    /// A stalled connection (no byte for this long) has failed.
    public var stallTimeout: Double = 60
    /// Redirects followed for one request; more is ELOOP, as for symbolic links.
    public var maxRedirects = 5
    /// Said once per server to the person running the job: what a program
    /// only sees as an errno (a certificate refused, say).
    public var warn: @Sendable (String) -> Void = { _ in }

    public init() {}

    /// The proxy and its exceptions from the environment, as curl reads them.
    public mutating func readEnvironment(_ environment: [String: String]) {
        if proxy == nil, let value = environment["http_proxy"] ?? environment["HTTP_PROXY"], !value.isEmpty {
            proxy = value
        }
        if let value = environment["no_proxy"] ?? environment["NO_PROXY"] {
            noProxy = value.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
