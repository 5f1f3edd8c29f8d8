import ParrotFilter
import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The filters the agent stacked onto one process (StackedFilter), to trap
/// calls there and nowhere else. Like the kernel's, a child's record starts
/// as a copy of its parent's, and exec keeps it.
final class StackedFilters {
    /// Descriptor numbers whose close traps.
    var watchedCloses: Set<Int32> = []
    /// sendmsg and sendmmsg trap.
    var watchesSends = false
    /// The kernel refused one (say, the program stacked its own filter in one
    /// thread only, so TSYNC cannot apply): the agent stops trying.
    var refused = false

    /// Every filter runs on every call the action cache cannot decide (read
    /// and write on any descriptor among them), so their number is capped;
    /// past it, closes go unwatched (the inotify path alone).
    static let maxWatchedCloses = 8

    var canWatchMoreCloses: Bool { !refused && watchedCloses.count < Self.maxWatchedCloses }

    func copy() -> StackedFilters {
        let made = StackedFilters()
        made.watchedCloses = watchedCloses
        made.watchesSends = watchesSends
        made.refused = refused
        return made
    }
}

extension Agent {
    /// `process`'s record (made on first need).
    func stackedFilters(of process: ProcessState) -> StackedFilters {
        let id = ObjectIdentifier(process)
        if let known = filtersByProcess[id] { return known }
        let made = StackedFilters()
        filtersByProcess[id] = made
        return made
    }

    /// A child process starts with its parent's filters.
    func inheritStackedFilters(from parent: ProcessState?, to child: ProcessState) {
        guard let parent, let known = filtersByProcess[ObjectIdentifier(parent)] else { return }
        filtersByProcess[ObjectIdentifier(child)] = known.copy()
    }

    func forgetStackedFilters(of process: ProcessState) {
        filtersByProcess.removeValue(forKey: ObjectIdentifier(process))
    }

    static let seccompSetModeFilter: UInt64 = 1
    static let seccompFlagTsync: UInt64 = 1
    static let seccompFlagSpecAllow: UInt64 = 4

    /// Calls that make the stopped tracee stack `filter` onto every thread of
    /// its process (TSYNC), then return `result`; `done` learns whether the
    /// kernel took it. The program (struct sock_fprog and instructions) goes
    /// below the stack's red zone, like rewritten paths: the kernel copies it
    /// at once. NO_NEW_PRIVS, which the call needs, is set since spawn.
    func stackingInjection(_ filter: CompiledFilter, sp: UInt64, memory: TraceeMemory, result: Int64,
                           done: @escaping (Bool) -> Void) throws -> Injection {
        let programAddress = try place(filter, below: sp, memory)
        let number = UInt64(policy.byName["seccomp"]!.number)
        var attempts: [UInt64] = [Self.seccompFlagTsync | Self.seccompFlagSpecAllow, Self.seccompFlagTsync]
        return Injection { last in
            // SPEC_ALLOW is newer than TSYNC: without it if refused (EINVAL).
            if last == nil || (last == -Int64(EINVAL) && !attempts.isEmpty) {
                let flags = attempts.removeFirst()
                return .call(Int(number), [Self.seccompSetModeFilter, flags, programAddress])
            }
            // 0, or (TSYNC) the id of a thread that cannot take it, or -errno.
            done(last == 0)
            return .finish(result)
        }
    }

    /// Writes `filter` and its struct sock_fprog below `address` (past the
    /// red zone); returns the sock_fprog's address.
    func place(_ filter: CompiledFilter, below address: UInt64, _ memory: TraceeMemory) throws -> UInt64 {
        var scratch = Scratch(below: address, size: filter.bytes.count + 32)
        let instructions = scratch.place(filter.bytes, alignment: 8)
        var program = withUnsafeBytes(of: UInt64(filter.instructionCount).littleEndian) { Array($0) }
        program += withUnsafeBytes(of: instructions.littleEndian) { Array($0) }
        let programAddress = scratch.place(program, alignment: 8)
        try scratch.commit(to: memory)
        return programAddress
    }
}
