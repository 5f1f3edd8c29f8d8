/// Everything `parrot chirp-server` can be told. The server checks it when it
/// starts (ChirpServer.start) and refuses to run with a clear message.
public struct ChirpServerConfiguration: Sendable {
    /// The exported directory: every request path is relative to it.
    public var root: String
    /// Loopback by default: exporting to the network is a decision to make explicitly.
    public var interface = "127.0.0.1"
    /// 0: any free port (see `portFile`).
    public var port = 9094
    /// Written (atomically) with the bound port once the server listens.
    public var portFile: String?
    /// The methods clients may authenticate with, in no particular order
    /// (the client chooses: protocols/chirp.md §2).
    public var authMethods: [ChirpAuthMethod] = ChirpAuthMethod.allCases
    /// Where `unix` authentication asks clients to create challenge files.
    public var challengeDirectory = "/tmp"
    /// Seconds the server waits for a claimed challenge file to appear.
    public var challengeTimeout = 5.0
    /// The ACL file of directories without their own `.__acl`. Without one, only
    /// the server's own user (`unix:NAME`) has rights.
    public var defaultACLFile: String?
    /// A directory without `.__acl` takes its nearest ancestor's before the default.
    public var inheritACL = false
    /// Only the `r` and `l` rights are ever granted.
    public var readOnly = false
    /// Connections with no traffic in either direction for this long are closed.
    public var idleTimeout = 60.0
    /// Threads for blocking file I/O, so that the event loop never waits for a disk.
    public var ioThreads = 16
    /// Exit when the process that started the server is gone (tests).
    public var exitWithParent = false

    public init(root: String) {
        self.root = root
    }
}

/// The authentication methods of protocols/chirp.md §2.1-2.3.
public enum ChirpAuthMethod: String, CaseIterable, Sendable {
    case unix, hostname, address
}
