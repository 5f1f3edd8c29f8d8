import ParrotFilter
import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The agent: decides, for every trapped call, whether it runs as is, with
/// rewritten arguments, or is emulated. Runs on the tracer thread.
public final class Agent: TraceEventHandler {
    typealias Handler = (SyscallStop, Tracee, TaskState) throws -> Resume

    let policy: Policy
    let options: AgentOptions
    let resolver: PathResolver
    /// What the resolver learned about host paths; cleared when the program
    /// changes the namespace.
    let hostCache: HostFileCache
    let log: DebugLog
    var tasks: [pid_t: TaskState] = [:]
    /// Handlers by syscall number; a classified call without one runs unchanged.
    var handlers: [Handler?]
    var reportedUnknown: Set<Int64> = []
    /// The program's view of the file an execve is about to run, by tid.
    var pendingExecutable: [pid_t: String] = [:]
    let initialFs: FsContext

    public init(policy: Policy = .builtin, options: AgentOptions) {
        self.policy = policy
        self.options = options
        self.log = options.log
        self.hostCache = HostFileCache()
        self.resolver = PathResolver(table: options.mounts, fs: hostCache)
        self.initialFs = FsContext(cwd: options.workingDirectory)
        self.handlers = Array(repeating: nil, count: (policy.rules.map(\.number).max() ?? 0) + 1)
        installHandlers()
    }

    var namespaceIsTrivial: Bool { options.mounts.isTrivial }

    func install(_ name: String, _ handler: @escaping Handler) {
        guard let number = policy.byName[name]?.number else { return }
        handlers[number] = handler
    }

    private func installHandlers() {
        install("clone") { [unowned self] stop, _, _ in try self.stripUntraced(stop) }
        for rule in policy.rules {
            if case .trapVirtualFD = rule.action {
                install(rule.name) { stop, _, _ in try Self.refuseVirtualDescriptor(stop) }
            }
        }
        installIdentityHandlers()
        // With an empty mount table every path means what it means on the host:
        // path calls stop once and run unchanged.
        guard !namespaceIsTrivial else { return }
        for (name, arguments) in PathSyscalls.table {
            let changesNamespace = PathSyscalls.namespaceChanging.contains(name)
            install(name) { [unowned self] stop, tracee, task in
                // Cleared before the call runs: a name it removes must not be
                // taken from the cache afterwards (the call may also fail: harmless).
                if changesNamespace { hostCache.invalidate() }
                return try self.handlePathCall(stop, tracee: tracee, task: task, arguments: arguments)
            }
        }
        installSpecialHandlers()
    }

    // MARK: TraceEventHandler

    public func handleSyscall(_ stop: SyscallStop, tracee: Tracee) throws -> Resume {
        if stop.trapData != TrapReason.classified.rawValue {
            return try refuseUnclassified(stop)
        }
        let handler = stop.number < handlers.count ? handlers[stop.number] : nil
        guard log.enabled(.syscall) else {
            // The common pass-through stop looks nothing up.
            return try handler?(stop, tracee, task(tracee.tid)) ?? .proceed
        }
        // Debug mode pays a second stop to show each result.
        ThreadMemo.of(tracee).pendingLog = describe(stop)
        _ = try handler?(stop, tracee, task(tracee.tid))
        return .proceedToExit
    }

    public func handleSyscallExit(_ stop: SyscallStop, result: Int64, tracee: Tracee) throws {
        let memo = ThreadMemo.of(tracee)
        if let line = memo.pendingLog {
            log.write("[\(tracee.tid)] \(line) = \(describeResult(result))")
            memo.pendingLog = nil
        }
        let action = memo.onExit
        memo.onExit = nil
        action?(result)
    }

    public func taskCreated(_ child: pid_t, parent: pid_t, kind: CreationKind) {
        let parentTask = tasks[parent]
        let state: TaskState
        switch kind {
        case .thread:
            state = TaskState(process: parentTask?.process ?? ProcessState(),
                              fs: parentTask?.fs ?? initialFs)
        case .fork, .vfork:
            state = TaskState(process: parentTask?.process.copy() ?? ProcessState(),
                              fs: parentTask?.fs.copy() ?? initialFs.copy())
        }
        tasks[child] = state
        if log.enabled(.process) { log.write("[\(parent)] created \(child) (\(kind))") }
    }

    public func taskExeced(_ tid: pid_t, formerTid: pid_t) {
        if formerTid != tid {
            tasks[tid] = tasks.removeValue(forKey: formerTid) ?? tasks[tid]
            pendingExecutable[tid] = pendingExecutable.removeValue(forKey: formerTid)
        }
        if let executable = pendingExecutable.removeValue(forKey: tid) {
            task(tid).process.executable = executable
        }
        if log.enabled(.process) {
            log.write("[\(tid)] exec \(task(tid).process.executable ?? "?")"
                + (formerTid != tid ? " (by thread \(formerTid))" : ""))
        }
    }

    public func taskExited(_ tid: pid_t) {
        tasks.removeValue(forKey: tid)
        pendingExecutable.removeValue(forKey: tid)
        if log.enabled(.process) { log.write("[\(tid)] exited") }
    }

    func task(_ tid: pid_t) -> TaskState {
        if let task = tasks[tid] { return task }
        let task = TaskState(process: ProcessState(), fs: initialFs.copy())
        tasks[tid] = task
        return task
    }

    // MARK: calls that need no namespace

    /// clone(CLONE_UNTRACED) would create a task the agent cannot see: drop the flag.
    func stripUntraced(_ stop: SyscallStop) throws -> Resume {
        let untraced: UInt64 = 0x0080_0000
        try stop.setArgument(0, stop.args[0] & ~untraced)
        return .proceed
    }

    /// No virtual descriptors exist until a remote service opens one.
    static func refuseVirtualDescriptor(_ stop: SyscallStop) throws -> Resume {
        try stop.fail(EBADF)
        return .proceed
    }

    func refuseUnclassified(_ stop: SyscallStop) throws -> Resume {
        let foreign = stop.trapData == TrapReason.foreignABI.rawValue
        let key = Int64(stop.number) | (foreign ? Int64(1) << 40 : 0)
        if reportedUnknown.insert(key).inserted || options.onUnknownSyscall == .kill {
            let what = foreign
                ? "a \(SyscallNames.abiName(arch: stop.arch, number: stop.number)) call (\(SyscallNames.foreignName(arch: stop.arch, number: stop.number)), number \(stop.number))"
                : "unclassified syscall \(SyscallNames.name(of: stop.number, policy: policy)) (\(stop.number))"
            let consequence = options.onUnknownSyscall == .kill ? "stopping the program" : "failing it with ENOSYS"
            log.write("[\(stop.tid)] \(what): \(consequence)")
        }
        if options.onUnknownSyscall == .kill {
            kill(stop.tid, SIGKILL)
            return .proceed
        }
        try stop.fail(ENOSYS)
        return .proceed
    }
}
