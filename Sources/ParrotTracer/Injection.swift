import CParrotShim
#if canImport(Glibc)
import Glibc
#endif

/// Syscalls the tracer makes a stopped tracee run for the agent (open a file
/// in the tracee, dup it to a number, close it), one after the other, before
/// the call that stopped returns with a result of the agent's choosing.
///
/// The first call replaces the stopped one; each next one re-executes the
/// `syscall` instruction with new registers from the previous one's exit stop.
/// Registers are restored at the end; signals that arrive meanwhile are held
/// and sent again afterwards, so no handler runs on the agent's registers.
public final class Injection {
    public enum Step {
        /// Run this syscall (number, up to six arguments) next.
        case call(Int, [UInt64])
        /// Done: the stopped call returns this (negative: -errno).
        case finish(Int64)
    }

    /// Given the previous injected call's result (nil at first), what comes next.
    let next: (Int64?) -> Step
    var savedRegisters = [UInt8](repeating: 0, count: Int(PARROT_REGS_SIZE))
    var heldSignals: [Int32] = []
    /// A signal came while the calls ran (it is sent again at the end).
    public var holdsSignals: Bool { !heldSignals.isEmpty }

    public init(_ next: @escaping (Int64?) -> Step) {
        self.next = next
    }

    /// The length of x86_64's `syscall` instruction: rewinding the instruction
    /// pointer by this much runs it again.
    static let syscallInstructionLength: UInt64 = 2

    /// At the seccomp stop: save registers, start the first call (or finish at once).
    /// Returns false when no call needs the tracee (the result is set).
    func begin(_ tid: pid_t) throws -> Bool {
        try TracerError.check(savedRegisters.withUnsafeMutableBytes { parrot_get_regs(tid, $0.baseAddress) }, "save registers")
        switch next(nil) {
        case .finish(let result):
            try TracerError.check(parrot_poke_reg(tid, PARROT_REG_ORIG_RAX, UInt64.max), "skip syscall")
            try TracerError.check(parrot_poke_reg(tid, PARROT_REG_RAX, UInt64(bitPattern: result)), "set result")
            return false
        case .call(let number, let args):
            try TracerError.check(parrot_poke_reg(tid, PARROT_REG_ORIG_RAX, UInt64(number)), "inject syscall")
            for (index, value) in args.enumerated() {
                try TracerError.check(parrot_poke_reg(tid, parrot_arg_reg(Int32(index)), value), "inject argument")
            }
            return true
        }
    }

    /// At the exit stop of a call the program made (its result already in the
    /// registers): run calls before the program sees that result. The first
    /// call re-executes the `syscall` instruction, like every next one.
    /// Returns false when no call needs the tracee.
    func beginAtExit(_ tid: pid_t) throws -> Bool {
        try TracerError.check(savedRegisters.withUnsafeMutableBytes { parrot_get_regs(tid, $0.baseAddress) }, "save registers")
        return try apply(next(nil), tid)
    }

    /// At an injected call's exit stop: start the next call, or restore the
    /// registers with the final result. Returns false when done.
    func advance(_ tid: pid_t, result: Int64) throws -> Bool {
        try apply(next(result), tid)
    }

    /// Restores the saved registers, changed to run `step`'s call again from
    /// the `syscall` instruction or to return its final result.
    private func apply(_ step: Step, _ tid: pid_t) throws -> Bool {
        var registers = savedRegisters
        registers.withUnsafeMutableBytes { raw in
            let regs = raw.baseAddress!
            switch step {
            case .finish(let value):
                parrot_regs_put(regs, PARROT_REG_RAX, UInt64(bitPattern: value))
            case .call(let number, let args):
                parrot_regs_put(regs, PARROT_REG_RAX, UInt64(number))
                parrot_regs_put(regs, PARROT_REG_ORIG_RAX, UInt64(number))
                parrot_regs_put(regs, PARROT_REG_RIP, parrot_regs_get(regs, PARROT_REG_RIP) - Self.syscallInstructionLength)
                for (index, value) in args.enumerated() { parrot_regs_put(regs, parrot_arg_reg(Int32(index)), value) }
            }
        }
        try TracerError.check(registers.withUnsafeBytes { parrot_set_regs(tid, $0.baseAddress) }, "set registers")
        if case .call = step { return true }
        return false
    }
}
