/// How a Chirp client connects and how long it keeps trying.
public struct ChirpOptions: Sendable {
    /// Proposed in this order; the server takes the first it accepts.
    public var authMethods: [ChirpAuthMethod] = [.unix, .hostname, .address]
    /// One connection attempt (name lookup aside).
    public var connectTimeout: Double = 10
    /// An established connection on which nothing moves for this long is broken.
    public var stallTimeout: Double = 60
    /// How long an operation keeps reconnecting to a server that has answered
    /// before (the agent's -T). A server never reached fails at once.
    public var retryTimeout: Double = 300
    /// The first pause between reconnects; it doubles up to `maxBackoff`.
    public var initialBackoff: Double = 1
    public var maxBackoff: Double = 60

    public init() {}
}
