/// Filesystem context of a task: shared by threads created with CLONE_FS,
/// copied at fork.
public final class FsContext {
    /// The current directory in the program's view.
    public var cwd: String
    public init(cwd: String) { self.cwd = cwd }
    public func copy() -> FsContext { FsContext(cwd: cwd) }
}

/// Per-process state (shared by the threads of one process).
public final class ProcessState {
    /// The executable in the program's view, for /proc/self/exe.
    public var executable: String?
    public init(executable: String? = nil) { self.executable = executable }
    public func copy() -> ProcessState { ProcessState(executable: executable) }
}

/// What the agent knows about one task (thread).
public final class TaskState {
    public var process: ProcessState
    public var fs: FsContext
    public init(process: ProcessState, fs: FsContext) {
        self.process = process
        self.fs = fs
    }
}
