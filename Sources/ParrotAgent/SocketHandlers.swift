import ParrotNamespace
import ParrotSandbox
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// bind, connect and sendto name a socket address. Unix-domain addresses name
/// paths, resolved through the namespace like any other path; IP addresses
/// answer to the sandbox's network rule.
extension Agent {
    func installSocketHandlers() {
        install("bind") { [unowned self] stop, tracee, task in
            try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 1, lengthArg: 2, use: .bind)
        }
        install("connect") { [unowned self] stop, tracee, task in
            try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 1, lengthArg: 2, use: .connect)
        }
        install("sendto") { [unowned self] stop, tracee, task in
            guard try allowsFastOpen(stop, flagsArg: 3) else { return .proceed }
            return try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 4, lengthArg: 5, use: .send)
        }
    }

    static let sunPathOffset = 2
    static let sunPathSize = 108
    /// Large enough for every address family the rules look at (sockaddr_in6: 28).
    static let addressReadSize = sunPathOffset + sunPathSize

    func handleSocketAddress(_ stop: SyscallStop, tracee: Tracee, task: TaskState,
                             addressArg: Int, lengthArg: Int, use: SocketAddress.Use) throws -> Resume {
        let length = Int(min(stop.args[lengthArg], UInt64(Self.addressReadSize)))
        guard stop.args[addressArg] != 0, length >= 2,
              let address = try? stop.memory.read(stop.args[addressArg], count: length)
        else { return .proceed }  // the kernel answers EFAULT or EINVAL
        let parsed = SocketAddress(address)
        if case .refused(let why) = options.network.decide(parsed, use: use) {
            return try refuseNetwork(stop, why)
        }
        guard case .unix = parsed, length > Self.sunPathOffset,
              address[Self.sunPathOffset] != 0  // abstract sockets have no path
        else { return .proceed }
        let pathBytes = address[Self.sunPathOffset...].prefix { $0 != 0 }
        let path = String(decoding: pathBytes, as: UTF8.self)
        let absolute = path.hasPrefix("/") ? path : PathName.join(task.fs.cwd, path)
        let creates = use == .bind
        switch resolver.resolve(absolute, followFinal: !creates) {
        case .failed(let errno):
            try stop.fail(errno)
        case .resolved(let resolution):
            let needed: AccessMode = creates ? .write : .read
            guard resolution.mode.isSuperset(of: needed) else {
                if log.enabled(.denied) { log.write("[\(stop.tid)] \(path): \(needed) not allowed by \(resolution.entry?.origin ?? "mount list")") }
                try stop.fail(EACCES)
                return .proceed
            }
            guard resolution.translated else { return .proceed }
            let host = Array(resolution.hostPath.utf8)
            guard host.count < Self.sunPathSize else { try stop.fail(ENAMETOOLONG); return .proceed }
            let newAddress = Array(address[0..<Self.sunPathOffset]) + host + [0]
            var scratch = Scratch(below: stop.stackPointer, size: newAddress.count)
            let placed = scratch.place(newAddress)
            try scratch.commit(to: stop.memory)
            try stop.setArgument(addressArg, placed)
            try stop.setArgument(lengthArg, UInt64(newAddress.count))
        }
        return .proceed
    }

    func installSpecialHandlers() {
        installCwdHandlers()
        installExecHandlers()
        installSocketHandlers()
        installNetworkHandlers()
        installSandboxHandlers()
        installDescriptorLimitHandlers()
    }
}
