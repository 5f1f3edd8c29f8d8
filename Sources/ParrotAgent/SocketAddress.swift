import ParrotSandbox
#if canImport(Glibc)
import Glibc
#endif

/// A socket address as far as the network rule cares.
enum SocketAddress: Equatable {
    case unspecified
    case unix
    case netlink
    /// An IPv4 or IPv6 address; `loopback` covers 127/8, ::1 and ::ffff:127/104,
    /// `any` the wildcard (0.0.0.0, ::).
    case ip(loopback: Bool, any: Bool)
    case other(family: Int32)

    enum Use { case bind, connect, send }

    init(_ bytes: [UInt8]) {
        let family = Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
        switch family {
        case AF_UNSPEC: self = .unspecified
        case AF_UNIX: self = .unix
        case AF_NETLINK: self = .netlink
        case AF_INET where bytes.count >= 8:
            let address = bytes[4..<8]
            self = .ip(loopback: address.first == 127, any: address.allSatisfy { $0 == 0 })
        case AF_INET6 where bytes.count >= 24:
            let address = Array(bytes[8..<24])
            let mappedV4 = address[0..<10].allSatisfy { $0 == 0 } && address[10] == 0xff && address[11] == 0xff
            let loopback = address == [UInt8](repeating: 0, count: 15) + [1] || (mappedV4 && address[12] == 127)
            self = .ip(loopback: loopback, any: address.allSatisfy { $0 == 0 })
        case AF_INET, AF_INET6: self = .other(family: family)  // too short: the kernel answers EINVAL
        default: self = .other(family: family)
        }
    }
}

enum NetworkDecision: Equatable {
    case allowed
    case refused(String)
}

extension NetworkRule {
    func decide(_ address: SocketAddress, use: SocketAddress.Use) -> NetworkDecision {
        guard self != .allow else { return .allowed }
        switch address {
        case .unspecified, .unix, .netlink: return .allowed
        case .other(let family): return .refused("address family \(family)")
        case .ip(let loopback, let any):
            if self == .none { return .refused("IP address (--deny-net)") }
            // Connecting or sending to the wildcard reaches this host; binding
            // to it listens on every interface.
            if loopback || (any && use != .bind) { return .allowed }
            return .refused("non-loopback IP address (--net local)")
        }
    }
}
