/// What the sandbox lets the program do with the network (connect, bind,
/// sendto, sendmsg to IP addresses).
public enum NetworkRule: String, Sendable, CaseIterable {
    /// Unrestricted.
    case allow
    /// Loopback addresses only (checked by the tracer).
    case local
    /// No IP network at all: only AF_UNIX and AF_NETLINK sockets, and TCP
    /// sockets whose bind and connect Landlock refuses.
    case none

    /// The filter overlay (filters/NAME.policy) this rule needs, if any.
    public var overlay: String? {
        switch self {
        case .allow: return nil
        case .local: return "net-local"
        case .none: return "net-none"
        }
    }
}
