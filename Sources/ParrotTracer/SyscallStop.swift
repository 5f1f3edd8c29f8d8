import CParrotShim
import ParrotFilter
#if canImport(Glibc)
import Glibc
#endif

/// A tracee stopped at PTRACE_EVENT_SECCOMP (or at the exit of a call whose
/// result the agent asked to see), or a call the filter sent to the listener
/// (answered: the caller sleeps in the kernel, its registers out of reach).
/// Reads and edits happen through this value, with the tracer's lock held.
public struct SyscallStop {
    public let tid: pid_t
    public let number: Int
    public let args: SyscallArguments
    public let instructionPointer: UInt64
    public let stackPointer: UInt64
    public let arch: UInt32
    public let trapData: UInt32
    /// Where an answered call's result goes; nil at a ptrace stop.
    let answer: CallAnswer?

    init(tid: pid_t, info: parrot_syscall_info) {
        self.tid = tid
        number = Int(info.nr)
        args = SyscallArguments(info.args)
        instructionPointer = info.ip
        stackPointer = info.sp
        arch = info.arch
        trapData = info.ret_data
        answer = nil
    }

    init(notification: parrot_notification, answer: CallAnswer) {
        tid = notification.tid
        number = Int(notification.nr)
        args = SyscallArguments(notification.args)
        instructionPointer = notification.ip
        stackPointer = 0  // not in a notification; answered calls never need it
        arch = notification.arch
        trapData = TrapReason.classified.rawValue
        self.answer = answer
    }

    /// Answered through the listener rather than stopped under ptrace.
    public var isAnswered: Bool { answer != nil }
    /// The result an answered call was given so far (nil: none, it runs natively).
    public var answeredResult: Int64? { answer?.value }

    /// Argument as the C `int` the kernel will use (fds, flags).
    public func int32(_ index: Int) -> Int32 { Int32(truncatingIfNeeded: args[index]) }

    public var memory: TraceeMemory { TraceeMemory(pid: tid) }

    /// Replaces argument `index` for the real call.
    public func setArgument(_ index: Int, _ value: UInt64) throws {
        if answer != nil { throw TracerError(description: "an answered call cannot be rewritten", errno: EINVAL) }
        try TracerError.check(parrot_poke_reg(tid, parrot_arg_reg(Int32(index)), value), "set argument")
    }

    /// Skips the call and makes it return `value` (negative: -errno).
    public func emulate(returning value: Int64) throws {
        if let answer { return answer.value = value }
        try TracerError.check(parrot_poke_reg(tid, PARROT_REG_ORIG_RAX, UInt64.max), "skip syscall")
        try TracerError.check(parrot_poke_reg(tid, PARROT_REG_RAX, UInt64(bitPattern: value)), "set result")
    }

    public func fail(_ errno: Int32) throws { try emulate(returning: -Int64(errno)) }

    /// Whether the call was made to return without running (emulate, fail).
    public func isSkipped() throws -> Bool {
        if let answer { return answer.value != nil }
        var number: UInt64 = 0
        try TracerError.check(parrot_peek_reg(tid, PARROT_REG_ORIG_RAX, &number), "read syscall number")
        return number == UInt64.max
    }

    /// Changes the result of a call at its syscall-exit stop.
    public func setResult(_ value: Int64) throws {
        if let answer { return answer.value = value }
        try TracerError.check(parrot_poke_reg(tid, PARROT_REG_RAX, UInt64(bitPattern: value)), "set result")
    }
}

/// The six argument registers, kept inline: an array would cost an
/// allocation on every stop.
public struct SyscallArguments {
    private let values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    init(_ values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) { self.values = values }

    public subscript(index: Int) -> UInt64 {
        switch index {
        case 0: values.0
        case 1: values.1
        case 2: values.2
        case 3: values.3
        case 4: values.4
        case 5: values.5
        default: preconditionFailure("system calls have six arguments")
        }
    }
}

/// The result of an answered call, filled in by the agent.
final class CallAnswer {
    var value: Int64?
}

/// What the tracer does after the agent handled a seccomp stop.
public enum Resume {
    /// Run the (possibly rewritten or skipped) call; no further stop.
    case proceed
    /// Run it and stop again at its exit: the agent needs the result.
    case proceedToExit
    /// Run these calls in the tracee first; the stopped call returns what the
    /// injection finishes with.
    case inject(Injection)
}

public struct TracerError: Error, CustomStringConvertible {
    public let description: String
    public let errno: Int32

    public init(description: String, errno: Int32) {
        self.description = description
        self.errno = errno
    }

    static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 { throw TracerError(description: "\(what): \(errnoName(-rc))", errno: -rc) }
    }

    static func check(_ rc: Int, _ what: String) throws {
        if rc < 0 { throw TracerError(description: "\(what): \(errnoName(Int32(-rc)))", errno: Int32(-rc)) }
    }
}

func errnoName(_ value: Int32) -> String { ErrnoName.name(of: value) }
