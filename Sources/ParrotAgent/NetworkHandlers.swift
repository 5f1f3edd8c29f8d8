import ParrotFilter
import ParrotSandbox
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The sandbox's network rule for the calls the filter overlays trap
/// (filters/net-none.policy, filters/net-local.policy): socket(), sendmsg and
/// sendmmsg. connect, bind and sendto go through handleSocketAddress.
extension Agent {
    static let msgFastOpen: UInt64 = 0x2000_0000
    static let msghdrSize = 56
    static let mmsghdrSize = 64

    func installNetworkHandlers() {
        guard options.network != .allow else { return }
        install("socket") { [unowned self] stop, _, _ in try checkSocketCreation(stop) }
        install("sendmsg") { [unowned self] stop, _, _ in
            guard try allowsFastOpen(stop, flagsArg: 2) else { return .proceed }
            return try checkMessages(stop, at: stop.args[1], count: 1, stride: Self.msghdrSize)
        }
        install("sendmmsg") { [unowned self] stop, _, _ in
            guard try allowsFastOpen(stop, flagsArg: 3) else { return .proceed }
            return try checkMessages(stop, at: stop.args[1], count: Int(min(stop.args[2], 1024)), stride: Self.mmsghdrSize)
        }
    }

    /// --deny-net: only unix and netlink sockets, and TCP, whose bind and
    /// connect Landlock refuses (the arguments are registers: no race).
    func checkSocketCreation(_ stop: SyscallStop) throws -> Resume {
        guard options.network == .none else { return .proceed }
        let family = stop.int32(0), type = stop.int32(1) & 0xf, proto = stop.int32(2)
        let isTCP = (family == AF_INET || family == AF_INET6)
            && type == Int32(SOCK_STREAM.rawValue) && (proto == 0 || proto == Int32(IPPROTO_TCP))
        if family == AF_UNIX || family == AF_NETLINK || isTCP { return .proceed }
        return try refuseNetwork(stop, "socket(family \(family), type \(type), protocol \(proto)) (--deny-net)")
    }

    /// TCP Fast Open connects inside sendto/sendmsg; --deny-net refuses it (a
    /// flag in a register: no race). Returns false when the call was refused.
    func allowsFastOpen(_ stop: SyscallStop, flagsArg: Int) throws -> Bool {
        guard options.network == .none, stop.args[flagsArg] & Self.msgFastOpen != 0 else { return true }
        _ = try refuseNetwork(stop, "TCP Fast Open (--deny-net)")
        return false
    }

    /// The destination of each struct msghdr (--net local). Tracer-enforced:
    /// the headers lie in the program's memory.
    func checkMessages(_ stop: SyscallStop, at address: UInt64, count: Int, stride: Int) throws -> Resume {
        guard options.network == .local, address != 0, count > 0,
              let headers = try? stop.memory.read(address, count: count * stride) else { return .proceed }
        for index in 0..<count {
            let header = headers[(index * stride)...].prefix(16)
            let name = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
            let length = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }
            guard name != 0, length >= 2,
                  let bytes = try? stop.memory.read(name, count: Int(min(length, UInt32(Self.addressReadSize))))
            else { continue }
            if case .refused(let why) = options.network.decide(SocketAddress(bytes), use: .send) {
                return try refuseNetwork(stop, why)
            }
        }
        return .proceed
    }

    func refuseNetwork(_ stop: SyscallStop, _ why: String) throws -> Resume {
        if log.enabled(.denied) {
            log.write("[\(stop.tid)] \(SyscallNames.name(of: stop.number, policy: policy)): \(why) refused")
        }
        try stop.fail(EACCES)
        return .proceed
    }
}
