/// Filesystem context of a task: shared by threads created with CLONE_FS,
/// copied at fork.
public final class FsContext {
    /// The current directory in the program's view.
    public var cwd: String
    /// Set while the current directory is remote: the kernel's own cwd is
    /// then stale, and relative paths must be resolved by the agent.
    public var remoteCwd: RemoteLocation?
    public init(cwd: String, remoteCwd: RemoteLocation? = nil) {
        self.cwd = cwd
        self.remoteCwd = remoteCwd
    }
    public func copy() -> FsContext { FsContext(cwd: cwd, remoteCwd: remoteCwd) }
}

/// Per-process state (shared by the threads of one process).
public final class ProcessState {
    /// The executable in the program's view, for /proc/self/exe.
    public var executable: String?
    /// Remote files and directories the process has open.
    public let descriptors: DescriptorTable
    /// Threads of the process still alive (the table dies with the last).
    public var threads = 0

    public init(executable: String? = nil, descriptors: DescriptorTable = DescriptorTable()) {
        self.executable = executable
        self.descriptors = descriptors
    }

    /// What a child gets at fork.
    public func copy() -> ProcessState {
        ProcessState(executable: executable, descriptors: descriptors.copy())
    }
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
