import ParrotNamespace
import ParrotSandbox

/// What to do with a syscall the policy does not classify.
public enum UnknownSyscallAction: String, Sendable, CaseIterable {
    /// Report it once and fail it with ENOSYS.
    case fail
    /// Report it and end the program.
    case kill
}

public struct AgentOptions {
    public var mounts: MountTable
    /// The program's starting directory, in its own view.
    public var workingDirectory: String
    public var onUnknownSyscall: UnknownSyscallAction
    public var log: DebugLog
    /// `--sandbox`: refuse setuid executables and apply `network` (the file
    /// policy is the mount table, which the sandbox completed).
    public var sandboxed = false
    public var network: NetworkRule = .allow
    /// `-U` / `-G`: what the identity calls report.
    public var identity = FakeIdentity()

    public init(mounts: MountTable, workingDirectory: String,
                onUnknownSyscall: UnknownSyscallAction = .fail, log: DebugLog = DebugLog()) {
        self.mounts = mounts
        self.workingDirectory = workingDirectory
        self.onUnknownSyscall = onUnknownSyscall
        self.log = log
    }
}
