import ParrotCache
import ParrotNamespace
#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
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
    /// Drivers by service name (`chirp` -> a factory taking `host:port`).
    public var services: [String: ServiceFactory] = [:]
    /// st_blksize of remote files: the unit programs size their reads and
    /// writes by, so one request moves this much (-b).
    public var blockSize: Int64 = 1 << 20
    /// Read-only opens of remote files go to local copies kept here; nil
    /// (--no-cache) streams every read through a virtual descriptor.
    public var cache: WholeFileCache?
    /// Seconds the answers of servers to stat are kept (--attr-timeout; with -S
    /// for the whole run); 0 asks every time.
    public var attributeLifetime: Double = 1
    /// Set for job reports (--stats-file, -W, --name-list).
    public var recorder: JobRecorder?
    /// Where local copies of remote files live (-t); made on first use.
    public var temporaryDirectory = "/tmp/parrot-\(getuid())"
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

/// Makes the driver for one server of a service, given the authority part of
/// its paths (`host:port`, `user@host`). Called once per server; the driver is
/// reused for every later operation.
public typealias ServiceFactory = @Sendable (_ authority: String) throws(ServiceError) -> FileService
