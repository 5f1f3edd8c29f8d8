#if canImport(Glibc)
import Glibc
#endif

/// The agent's side of the tracer: called with the tracer's lock held, one call
/// at a time, on the tracer thread (ptrace stops, in stop order) or on the
/// answerer's (answered calls: `handleSyscall` only, with a stop whose
/// `isAnswered` is true, which must be emulated whole or left to run as is).
public protocol TraceEventHandler: AnyObject {
    /// A PTRACE_EVENT_SECCOMP stop. Errors (e.g. the task died) are logged and the
    /// call proceeds unchanged.
    func handleSyscall(_ stop: SyscallStop, tracee: Tracee) throws -> Resume
    /// The exit of a call that was resumed with `.proceedToExit`. An injection
    /// returned here runs before the program sees the call's result (which it
    /// finishes with, changed or not).
    func handleSyscallExit(_ stop: SyscallStop, result: Int64, tracee: Tracee) throws -> Injection?
    /// A task was created by `parent`; called before either runs on.
    func taskCreated(_ child: pid_t, parent: pid_t, kind: CreationKind)
    /// `tid` completed an execve; `formerTid` differs when a non-leader thread exec'ed.
    func taskExeced(_ tid: pid_t, formerTid: pid_t)
    /// `tid` is gone: exited or killed (how, when the kernel said).
    func taskExited(_ tid: pid_t, how: Termination)
    /// When the tracer should call `deadlinePassed()` if no stop comes first
    /// (CLOCK_MONOTONIC nanoseconds); nil when nothing waits.
    func wakeDeadline() -> UInt64?
    /// The deadline passed with the tracees running untrapped.
    func deadlinePassed()
}

extension TraceEventHandler {
    public func wakeDeadline() -> UInt64? { nil }
    public func deadlinePassed() {}
}
