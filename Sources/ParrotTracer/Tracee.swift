#if canImport(Glibc)
import Glibc
#endif

/// One traced thread (the kernel's task), known by its tid.
public final class Tracee {
    public let tid: pid_t
    /// A new task whose initial PTRACE_EVENT_STOP has not been seen yet.
    var expectingInitialStop = false
    /// Resumed with PTRACE_SYSCALL: its next syscall stop is this call's exit.
    var awaitingExit = false
    /// Calls being injected for the agent: every stop belongs to them until done.
    var injection: Injection?
    /// Scratch state of the agent for this thread (e.g. what it rewrote).
    public var scratch: AnyObject?

    init(tid: pid_t) { self.tid = tid }
}

/// How a new task came to be.
public enum CreationKind: Sendable {
    /// A new process (fork, or clone without CLONE_VM sharing).
    case fork
    /// posix_spawn / vfork: a new process that shares memory until exec.
    case vfork
    /// A new thread of the same process.
    case thread
}

/// How a traced program ended.
public enum Termination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// A shell's view: the exit code, or 128+N for a signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let sig): return 128 + sig
        }
    }
}
