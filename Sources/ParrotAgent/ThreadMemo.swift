import ParrotTracer

/// What the agent remembers about one thread between stops.
final class ThreadMemo {
    /// A call whose arguments were rewritten into scratch memory. If the kernel
    /// restarts it after a signal (same number, ip and sp), the registers come back
    /// rewritten and the scratch may be overwritten by the signal frame: the
    /// original arguments are taken from here instead.
    struct Rewrite {
        let number: Int
        let instructionPointer: UInt64
        let stackPointer: UInt64
        /// path argument index -> (scratch address, original path, original dirfd)
        var arguments: [Int: (address: UInt64, path: [UInt8], dirfd: UInt64?)]
    }

    var lastRewrite: Rewrite?
    /// Run at the exit stop of the current call (resumed with .proceedToExit),
    /// with its result; may ask for calls to inject before the program goes on.
    var onExit: ((Int64) -> Injection?)?
    /// Description of the current call, for `-d syscall`.
    var pendingLog: String?

    static func of(_ tracee: Tracee) -> ThreadMemo {
        if let memo = tracee.scratch as? ThreadMemo { return memo }
        let memo = ThreadMemo()
        tracee.scratch = memo
        return memo
    }

    /// The remembered original of argument `index`, when this stop restarts the
    /// call we rewrote.
    func original(of index: Int, in stop: SyscallStop) -> (path: [UInt8], dirfd: UInt64?)? {
        guard let last = lastRewrite, last.number == stop.number,
              last.instructionPointer == stop.instructionPointer, last.stackPointer == stop.stackPointer,
              let argument = last.arguments[index], argument.address == stop.args[index] else { return nil }
        return (argument.path, argument.dirfd)
    }
}
