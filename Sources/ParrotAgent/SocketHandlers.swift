import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// Unix-domain socket addresses name paths: bind, connect and sendto resolve them
/// through the namespace like any other path.
extension Agent {
    func installSocketHandlers() {
        install("bind") { [unowned self] stop, tracee, task in
            try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 1, lengthArg: 2, creates: true)
        }
        install("connect") { [unowned self] stop, tracee, task in
            try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 1, lengthArg: 2, creates: false)
        }
        install("sendto") { [unowned self] stop, tracee, task in
            try handleSocketAddress(stop, tracee: tracee, task: task, addressArg: 4, lengthArg: 5, creates: false)
        }
    }

    static let sunPathOffset = 2
    static let sunPathSize = 108

    func handleSocketAddress(_ stop: SyscallStop, tracee: Tracee, task: TaskState,
                             addressArg: Int, lengthArg: Int, creates: Bool) throws -> Resume {
        let length = Int(min(stop.args[lengthArg], UInt64(Self.sunPathOffset + Self.sunPathSize)))
        guard stop.args[addressArg] != 0, length > Self.sunPathOffset,
              let address = try? stop.memory.read(stop.args[addressArg], count: length),
              address.withUnsafeBytes({ $0.loadUnaligned(as: UInt16.self) }) == UInt16(AF_UNIX),
              address[Self.sunPathOffset] != 0  // abstract sockets have no path
        else { return .proceed }
        let pathBytes = address[Self.sunPathOffset...].prefix { $0 != 0 }
        let path = String(decoding: pathBytes, as: UTF8.self)
        let absolute = path.hasPrefix("/") ? path : PathName.join(task.fs.cwd, path)
        switch resolver.resolve(absolute, followFinal: !creates) {
        case .failed(let errno):
            try stop.fail(errno)
        case .resolved(let resolution):
            let needed: AccessMode = creates ? .write : .read
            guard resolution.mode.isSuperset(of: needed) else { try stop.fail(EACCES); return .proceed }
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
    }
}
