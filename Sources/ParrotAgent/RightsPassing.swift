import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// A virtual descriptor handed to another process over a unix socket
/// (sendmsg with SCM_RIGHTS) must become real, or the kernel says EBADF.
/// sendmsg is trapped only in processes that hold virtual descriptors (a
/// filter stacked at their first remote open); a message naming some has a
/// descriptor on a local copy opened in the sender for each, the kernel sends
/// a copy of the message that names those, and the sender's extra
/// descriptors are closed after: the receiver's is the copy's last, and
/// LocalCopies writes the copy back when it is closed.
extension Agent {
    static let scmRights: Int32 = 1
    /// Control buffers are small (a few descriptors); past this one is left alone.
    static let controlReadLimit = 64 * 1024

    /// At the seccomp stop of an open that made a virtual descriptor: the
    /// process's first one stacks the sendmsg filter before the open returns.
    func watchingSends(_ name: String, _ stop: SyscallStop, task: TaskState, result: Int64) -> Resume? {
        guard result >= Int64(DescriptorTable.base), Self.openCalls.contains(name) else { return nil }
        let filters = stackedFilters(of: task.process)
        guard !filters.watchesSends, !filters.refused else { return nil }
        let numbers = ["sendmsg", "sendmmsg"].map { policy.byName[$0]!.number }
        // No room below the stack: the open returns as usual, unwatched.
        guard let injection = try? stackingInjection(StackedFilter.trapSend(numbers: numbers), sp: stop.stackPointer,
                                                     memory: stop.memory, result: result, done: { [unowned self] installed in
            guard !installed else { return }
            filters.watchesSends = false
            filters.refused = true
            log.write("[\(stop.tid)] cannot stack a filter to watch sendmsg; virtual descriptors cannot be passed from there")
        }) else { return nil }
        filters.watchesSends = true
        return .inject(injection)
    }

    /// A sendmsg or sendmmsg the stacked filter trapped: the network rule
    /// first (it traps them too, and the newest filter's reason wins), then
    /// the descriptors the messages pass.
    func handleWatchedSend(_ stop: SyscallStop, tracee: Tracee) throws -> Resume {
        let task = task(stop.tid)
        let many = stop.number == policy.byName["sendmmsg"]!.number
        if options.network != .allow, let handler = handlers[stop.number]?.run {
            // Refused calls are skipped (orig_rax -1) and keep .proceed; a pass returns .proceed too.
            let verdict = try handler(stop, tracee, task)
            if try stop.isSkipped() { return verdict }
        }
        guard !task.process.descriptors.isEmpty, stop.args[1] != 0 else { return .proceed }
        let count = many ? Int(min(stop.args[2], 1024)) : 1
        let stride = many ? Self.mmsghdrSize : Self.msghdrSize
        guard count > 0, let headers = try? stop.memory.read(stop.args[1], count: count * stride) else { return .proceed }
        var messages: [PassedMessage] = []
        for index in 0..<count {
            let header = Array(headers[(index * stride)..<(index * stride + Self.msghdrSize)])
            do throws(ServiceError) {
                if let message = try passedMessage(header, index: index, stop, task) { messages.append(message) }
            } catch {
                try stop.fail(error.errno)
                return .proceed
            }
        }
        guard !messages.isEmpty else { return .proceed }
        return try passRights(messages, headers: headers, stride: stride, stop)
    }

    /// One message whose SCM_RIGHTS name virtual descriptors.
    struct PassedMessage {
        let index: Int
        var control: [UInt8]
        /// Where in `control` each virtual descriptor sits, and its file.
        let slots: [(offset: Int, file: OpenFile)]
    }

    /// The virtual descriptors `header`'s control messages pass (nil: none);
    /// EBADF for a virtual number the process does not hold.
    private func passedMessage(_ header: [UInt8], index: Int, _ stop: SyscallStop,
                               _ task: TaskState) throws(ServiceError) -> PassedMessage? {
        let address = header.load(UInt64.self, at: 32), length = header.load(UInt64.self, at: 40)
        guard address != 0, length >= 16, length <= UInt64(Self.controlReadLimit),
              let control = try? stop.memory.read(address, count: Int(length)) else { return nil }
        var slots: [(offset: Int, file: OpenFile)] = []
        var offset = 0
        while offset + 16 <= control.count {
            let size = Int(control.load(UInt64.self, at: offset))
            guard size >= 16, offset + size <= control.count else { break }
            if control.load(Int32.self, at: offset + 8) == SOL_SOCKET && control.load(Int32.self, at: offset + 12) == Self.scmRights {
                for at in stride(from: offset + 16, through: offset + size - 4, by: 4) {
                    let fd = control.load(Int32.self, at: at)
                    guard DescriptorTable.isVirtual(fd) else { continue }
                    // A remote directory has no local copy to pass: as before, EBADF.
                    guard let file = task.process.descriptors[fd]?.file, !file.isDirectory else {
                        throw ServiceError(errno: EBADF)
                    }
                    slots.append((at, file))
                }
            }
            offset += (size + 7) & ~7
        }
        return slots.isEmpty ? nil : PassedMessage(index: index, control: control, slots: slots)
    }

    /// Opens a local copy for every passed virtual descriptor, sends copies of
    /// the headers and control buffers that name them (scratch below the
    /// stack), closes them, and returns what the send returned. sendmmsg's
    /// msg_len fields are copied back to the program's vector.
    private func passRights(_ messages: [PassedMessage], headers: [UInt8], stride: Int,
                            _ stop: SyscallStop) throws -> Resume {
        let copies = localCopies()
        var made: [LocalCopies.Copy] = []
        for message in messages {
            for slot in message.slots {
                do throws(ServiceError) { made.append(try copies.copy(of: slot.file)) } catch {
                    made.forEach(copies.abandon)
                    log.write("[\(stop.tid)] cannot make a local copy of \(slot.file.location) to pass it: \(error)")
                    try stop.fail(error.errno)
                    return .proceed
                }
            }
        }
        let paths = made.map { Array($0.path.utf8) + [0] }
        let controlBytes = messages.reduce(0) { $0 + $1.control.count + 8 }
        var scratch = Scratch(below: stop.stackPointer, size: headers.count + controlBytes + paths.reduce(16) { $0 + $1.count })
        let pathAddresses = paths.map { scratch.place($0) }
        let controlAddresses = messages.map { scratch.place($0.control, alignment: 8) }
        var vector = headers
        for (message, address) in zip(messages, controlAddresses) {
            vector.store(address, at: message.index * stride + 32)
        }
        let vectorAddress = scratch.place(vector, alignment: 8)
        do {
            try scratch.commit(to: stop.memory)
        } catch {
            made.forEach(copies.abandon)  // no room below the stack: the kernel answers as before (EBADF)
            return .proceed
        }
        if log.enabled(.namespace) {
            log.write("[\(stop.tid)] passing \(made.count) virtual descriptor(s) as local copies: \(made.map(\.path))")
        }

        let files = messages.flatMap { $0.slots.map(\.file) }
        let args = stop.args, memory = stop.memory, call = stop.number
        let isMany = stride == Self.mmsghdrSize
        var fds: [Int32] = []
        var seeking = false
        var result: Int64?  // the send's, or the first failure's
        var closed = 0
        let injection = Injection { [unowned self] last in
            if let last {
                if result == nil && !seeking && fds.count < files.count {  // an open came back
                    if last < 0 {
                        for copy in made[fds.count...] { copies.abandon(copy) }
                        result = last
                    } else {
                        copies.opened(made[fds.count])
                        fds.append(Int32(last))
                        let file = files[fds.count - 1]
                        if file.offset > 0 && file.flags & O_APPEND == 0 {
                            seeking = true
                            return .call(number(.lseek), [UInt64(last), UInt64(file.offset), UInt64(SEEK_SET)])
                        }
                    }
                } else if seeking {
                    seeking = false
                } else if result == nil {  // the send came back
                    result = last
                    if isMany && last > 0 { Self.copyMessageLengths(Int(last), from: vectorAddress, to: args[1], memory) }
                } else {
                    closed += 1
                }
            }
            if result == nil {
                if fds.count < files.count {
                    let file = files[fds.count]
                    let flags = UInt64(file.isPathOnly ? O_RDONLY : file.accessMode) | UInt64(file.flags & O_APPEND) | UInt64(O_CLOEXEC)
                    return .call(number(.openat), [UInt64(bitPattern: Self.atFdcwd), pathAddresses[fds.count], flags, 0])
                }
                do {
                    try Self.writeControls(messages, at: controlAddresses, fds: fds, memory)
                    return .call(call, [args[0], vectorAddress, args[2], args[3], args[4], args[5]])
                } catch {
                    result = -Int64(EFAULT)
                }
            }
            if closed < fds.count { return .call(number(.close), [UInt64(fds[closed])]) }
            return .finish(result ?? -Int64(EIO))
        }
        return .inject(injection)
    }

    /// The control buffers as sent: each virtual number replaced by its copy's descriptor.
    private static func writeControls(_ messages: [PassedMessage], at addresses: [UInt64], fds: [Int32],
                                      _ memory: TraceeMemory) throws {
        var next = 0
        for (message, address) in zip(messages, addresses) {
            var control = message.control
            for slot in message.slots {
                control.store(fds[next], at: slot.offset)
                next += 1
            }
            try memory.write(control, to: address)
        }
    }

    /// sendmmsg wrote msg_len into the vector it was given: the program's must say the same.
    private static func copyMessageLengths(_ sent: Int, from copy: UInt64, to original: UInt64, _ memory: TraceeMemory) {
        for index in 0..<sent {
            let at = UInt64(index * mmsghdrSize + msghdrSize)
            if let length = try? memory.read(copy + at, count: 4) { try? memory.write(length, to: original + at) }
        }
    }
}

extension Array where Element == UInt8 {
    mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}
