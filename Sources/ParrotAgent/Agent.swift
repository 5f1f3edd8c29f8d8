import ParrotCache
import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The agent: decides, for every trapped call, whether it runs as is, with
/// rewritten arguments, or is emulated. Runs with the tracer's lock held, on
/// the tracer thread or (answered calls) the answerer's: never two at once.
public final class Agent: TraceEventHandler {
    typealias Handler = (SyscallStop, Tracee, TaskState) throws -> Resume

    /// A handler as the table keeps it: a closure stored straight in an
    /// array is kept in the array's generic form, and taking it out cost a
    /// thunk allocated on every stop.
    struct InstalledHandler {
        let run: Handler
    }

    let policy: Policy
    let options: AgentOptions
    let resolver: PathResolver
    /// What the resolver learned about host paths; cleared when the program
    /// changes the namespace.
    let hostCache: HostFileCache
    let log: DebugLog
    var tasks: [pid_t: TaskState] = [:]
    /// Handlers by syscall number; a classified call without one runs unchanged.
    var handlers: [InstalledHandler?]
    var reportedUnknown: Set<Int64> = []
    var reportedDescriptorLimit = false
    /// Locks on virtual descriptors, made at the first.
    var shadowLocks: ShadowLocks?
    /// The program's view of the file an execve is about to run, by tid.
    var pendingExecutable: [pid_t: String] = [:]
    let initialFs: FsContext
    /// What the job did, when a report was asked for.
    var recorder: JobRecorder? { options.recorder }
    /// Drivers of the remote servers in use.
    let services: ServiceRegistry
    /// The services' first path components, as bytes for the quick check.
    let serviceNames: [[UInt8]]
    /// Path arguments by syscall number, for calls whose local paths can pass
    /// on a quick look (see isPlainlyLocal); empty with mount entries.
    var quickPathArguments: [[PathArgument]?]
    /// Some task's current directory is remote: relative paths need the full walk.
    var remoteCwdInUse = false
    /// Paths the quick check read in this stop and found naming a service,
    /// by address: resolution takes them from here instead of reading again.
    var prefetchedPaths: [(address: UInt64, bytes: [UInt8])] = []
    private(set) var copies: LocalCopies?
    /// The program's view of cached copies it opened, for /proc/self/fd.
    var cachedNames: [String: String] = [:]
    /// Local copies of remote programs run so far.
    var executableCopies: [String] = []
    /// Filters stacked onto processes, by their ProcessState.
    var filtersByProcess: [ObjectIdentifier: StackedFilters] = [:]

    /// Local copies of remote files (made on first need).
    func localCopies() -> LocalCopies {
        if let copies { return copies }
        let made = LocalCopies(directory: options.temporaryDirectory, log: log, cache: options.cache)
        made.copiedFiles = options.cache.map { copiedFiles($0) }
        made.isOpen = { [unowned self] path in holdsOpen(path) }
        made.unkeep = { [unowned self] file in if file.unkeep() { closeRemote(file) } }
        made.borrowing = { [unowned self] in keepAliveFromNow() }
        copies = made
        return made
    }

    private(set) var writeBack: CacheWriteBack?
    /// The calls that may add to a gathered run instead of sending it.
    /// The descriptor arguments the filter judges, by call number.
    private lazy var descriptorArguments: [Int: [Int]] = {
        var arguments: [Int: [Int]] = [:]
        for rule in policy.rules {
            switch rule.action {
            case .trapVirtualFD(let args), .answerVirtualFD(let args): arguments[rule.number] = args
            case .trapUnlessEmptyPath(_, let fdArg): arguments[rule.number] = [fdArg]
            default: break
            }
        }
        return arguments
    }()
    private lazy var writeCallNumbers: Set<Int> = Set(["write", "pwrite64", "writev", "pwritev", "pwritev2"]
        .compactMap { policy.byName[$0]?.number })
    /// Small writes to streamed files, not yet sent.
    private(set) var gathered: GatheredWrites?
    /// When the descriptors of held copies are next asked about (see keepAliveInterval).
    var heldKeepAlive: UInt64?

    func gatheredWrites() -> GatheredWrites {
        if let gathered { return gathered }
        let made = GatheredWrites { [unowned self] (file, bytes, offset) throws(ServiceError) in
            var done = 0
            while done < bytes.count {
                let count = try sendWrite(file, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + Int64(done))
                if count == 0 { throw ServiceError(errno: EIO, message: "\(file.location): the service took no more bytes") }
                done += count
            }
        }
        gathered = made
        return made
    }

    /// Cache entries written alongside files streamed in cache mode.
    private(set) var streamedCopies: StreamedCopies?

    func streamedCopies(_ cache: WholeFileCache) -> StreamedCopies {
        if let streamedCopies { return streamedCopies }
        let made = StreamedCopies(cache: cache)
        streamedCopies = made
        return made
    }

    /// Cached copies opened for writing (made on first need).
    func cacheWriteBack(_ cache: WholeFileCache) -> CacheWriteBack {
        if let writeBack { return writeBack }
        let made = CacheWriteBack(cache: cache, log: log)
        made.copiedFiles = copiedFiles(cache)
        made.isOpen = { [unowned self] path in holdsOpen(path) }
        writeBack = made
        return made
    }

    private(set) var copied: CopiedFiles?

    /// Which remote file each cache entry copies (made on first need).
    func copiedFiles(_ cache: WholeFileCache) -> CopiedFiles {
        if let copied { return copied }
        let made = CopiedFiles(cache: cache)
        copied = made
        return made
    }

    /// After the last task: local copies still open when processes died are written back.
    public func finishRun() {
        gathered?.flushAll()
        writeBack?.settleAll()
        copies?.settleAll()
        removeExecutableCopies()
    }

    public init(policy: Policy = .builtin, options: AgentOptions) {
        self.policy = policy
        self.options = options
        self.log = options.log
        self.hostCache = HostFileCache()
        self.services = ServiceRegistry(options.services, recorder: options.recorder,
                                        attributeLifetime: options.attributeLifetime)
        self.serviceNames = options.services.keys.map { Array($0.utf8) }
        self.resolver = PathResolver(table: options.mounts, services: services.names, fs: hostCache)
        let startsRemote = RemoteLocation(normalized: PathName.normalize(options.workingDirectory),
                                          services: Set(options.services.keys))
        self.initialFs = FsContext(cwd: startsRemote?.virtualPath ?? options.workingDirectory, remoteCwd: startsRemote)
        self.handlers = Array(repeating: nil, count: (policy.rules.map(\.number).max() ?? 0) + 1)
        self.quickPathArguments = Array(repeating: nil, count: handlers.count)
        installHandlers()
        remoteCwdInUse = startsRemote != nil
    }

    /// The program's working directory at its start, in its view.
    public var startingDirectory: String { initialFs.cwd }

    /// A remote starting directory (-w) must exist and be a directory.
    public func checkWorkingDirectory() throws(ServiceError) {
        guard var location = initialFs.remoteCwd else { return }
        // Kept as the kernel keeps a working directory: `..` and links followed.
        if case .resolved(let spelled) = resolver.resolve(options.workingDirectory, followFinal: true),
           spelled.remoteSpelling != nil {
            switch physicalParents(spelled, known: nil, follow: true, trailingSlash: false) {
            case .failed(let errno): throw ServiceError(errno: errno)
            case .resolved(let resolution):
                guard let remote = resolution.remote else {
                    throw ServiceError(errno: EXDEV, message: "leads out of the server, to \(resolution.virtualPath): give that")
                }
                location = remote
            }
        }
        do throws(ServiceError) {
            let physical = try physicalDirectory(location, under: nil, service: try services.driver(for: location))
            initialFs.cwd = physical.virtualPath
            initialFs.remoteCwd = physical
        } catch where error.errno == ENOTDIR {
            throw ServiceError(errno: ENOTDIR, message: "not a directory")
        }
    }

    /// Every path means what it means on the host: no mount entries, no services.
    public var namespaceIsTrivial: Bool { options.mounts.isTrivial && options.services.isEmpty }

    func install(_ name: String, _ handler: @escaping Handler) {
        guard let number = policy.byName[name]?.number else { return }
        handlers[number] = InstalledHandler(run: handler)
    }

    private func installHandlers() {
        install("clone") { [unowned self] stop, _, _ in try self.stripUntraced(stop) }
        for rule in policy.rules {
            switch rule.action {
            case .trapVirtualFD, .answerVirtualFD:
                install(rule.name) { stop, _, _ in try Self.refuseVirtualDescriptor(stop) }
            default: break
            }
        }
        installIdentityHandlers()
        // With an empty mount table and no services every path means what it
        // means on the host: path calls stop once and run unchanged.
        guard !namespaceIsTrivial else { return }
        installVirtualDescriptorHandlers()
        for (name, arguments) in PathSyscalls.table {
            let changesNamespace = PathSyscalls.namespaceChanging.contains(name)
            install(name) { [unowned self] stop, tracee, task in
                // Cleared before the call runs: a name it removes must not be
                // taken from the cache afterwards (the call may also fail: harmless).
                if changesNamespace { hostCache.invalidate() }
                return try self.handlePathCall(stop, tracee: tracee, task: task, name: name, arguments: arguments)
            }
            // The special handlers track what the program sees (cwd, exe, /proc links).
            // A name list needs every path resolved.
            if options.mounts.isTrivial && !PathSyscalls.tracked.contains(name) && options.recorder?.recordsNames != true,
               let number = policy.byName[name]?.number {
                quickPathArguments[number] = arguments
            }
        }
        installSpecialHandlers()
        installCachedDescriptorAttributeCalls()  // wraps the fchmod and utimensat handlers above
        installLockCalls()  // wraps fcntl's
    }

    // MARK: TraceEventHandler

    public func handleSyscall(_ stop: SyscallStop, tracee: Tracee) throws -> Resume {
        if stop.trapData != TrapReason.classified.rawValue {
            gathered?.flushAll()  // a descriptor passed or closed may be read next
            let watched: Handler
            switch stop.trapData {
            case TrapReason.watchedClose.rawValue:
                watched = { [unowned self] stop, tracee, _ in try handleWatchedDescriptor(stop, tracee: tracee) }
            case TrapReason.watchedSend.rawValue:
                watched = { [unowned self] stop, tracee, _ in try handleWatchedSend(stop, tracee: tracee) }
            default:
                guard stop.trapData == TrapReason.unclassified.rawValue,
                      let arguments = descriptorArguments[stop.number] else { return try refuseUnclassified(stop) }
                // A descriptor whose register's upper half holds more than the
                // int's sign, which the filter cannot place: the kernel reads
                // the low half, and so does the agent.
                guard arguments.contains(where: { DescriptorTable.isVirtual(stop.int32($0)) }) else { return .proceed }
                return try handleClassified(stop, tracee: tracee)
            }
            guard log.enabled(.syscall) else { return try watched(stop, tracee, task(tracee.tid)) }
            return try logged(stop, tracee: tracee, watched, note: " [stacked filter]")
        }
        return try handleClassified(stop, tracee: tracee)
    }

    private func handleClassified(_ stop: SyscallStop, tracee: Tracee) throws -> Resume {
        recorder?.count(stop.number)
        // A copy the program closed goes back before anything else happens.
        if let copies, !copies.isEmpty { copies.settle() }
        if let writeBack, !writeBack.isEmpty { writeBack.settle() }
        let handler = stop.number < handlers.count ? handlers[stop.number]?.run : nil
        if !prefetchedPaths.isEmpty { prefetchedPaths.removeAll(keepingCapacity: true) }
        guard log.enabled(.syscall) else {
            if !remoteCwdInUse, let arguments = quickPathArguments[stop.number],
               isPlainlyLocal(stop, tracee: tracee, arguments: arguments) {
                return .proceed
            }
            flushGatheredWrites(before: stop.number)
            // The common pass-through stop looks nothing up.
            return try handler?(stop, tracee, task(tracee.tid)) ?? .proceed
        }
        return try logged(stop, tracee: tracee, handler)
    }

    /// Gathered writes go out before any call but a write can reach a service.
    private func flushGatheredWrites(before number: Int) {
        guard let gathered, !gathered.isEmpty, !writeCallNumbers.contains(number) else { return }
        gathered.flushAll()
    }

    /// Debug mode pays a second stop to show each result.
    private func logged(_ stop: SyscallStop, tracee: Tracee, _ handler: Handler?, note: String = "") throws -> Resume {
        flushGatheredWrites(before: stop.number)
        let resume = try handler?(stop, tracee, task(tracee.tid)) ?? .proceed
        if case .inject = resume {
            // Injected calls own the exit stops: say what happens instead.
            log.write("[\(tracee.tid)] \(describe(stop))\(note) = (injected calls)")
            return resume
        }
        if stop.isAnswered {
            // No exit stop to wait for: the answer is the result.
            let result = stop.answeredResult.map(describeResult) ?? "(runs natively)"
            log.write("[\(tracee.tid)] \(describe(stop))\(note) = \(result) [answered]")
            return resume
        }
        ThreadMemo.of(tracee).pendingLog = describe(stop) + note
        return .proceedToExit
    }

    public func handleSyscallExit(_ stop: SyscallStop, result: Int64, tracee: Tracee) throws -> Injection? {
        let memo = ThreadMemo.of(tracee)
        if let line = memo.pendingLog {
            log.write("[\(tracee.tid)] \(line) = \(describeResult(result))")
            memo.pendingLog = nil
        }
        let action = memo.onExit
        memo.onExit = nil
        return action?(result)
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
            inheritStackedFilters(from: parentTask?.process, to: state.process)
        }
        state.process.threads += 1
        tasks[child] = state
        if kind != .thread { recorder?.processStarted(child, parent: parent) }
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
        let process = task(tid).process
        for fd in process.descriptors.descriptors where process.descriptors[fd]?.closeOnExec == true {
            if let file = process.descriptors[fd]?.file { releaseRecordLocks(process, file) }
        }
        process.descriptors.execute().forEach(closeRemote)
        recorder?.processExeced(tid, formerTid: formerTid)
        if log.enabled(.process) {
            log.write("[\(tid)] exec \(task(tid).process.executable ?? "?")"
                + (formerTid != tid ? " (by thread \(formerTid))" : ""))
        }
    }

    /// Gathered writes go out half a second after they began even if the
    /// program makes no trapped call meanwhile.
    public func wakeDeadline() -> UInt64? {
        let flush = gathered.flatMap { $0.isEmpty ? nil : $0.deadline }
        guard let keepAlive = heldKeepAlive else { return flush }
        return min(flush ?? .max, keepAlive)
    }

    public func deadlinePassed() {
        gathered?.flushAll()
        keepHeldFilesAlive()
    }

    public func taskExited(_ tid: pid_t, how: Termination) {
        recorder?.processExited(tid, how: how)
        if let process = tasks.removeValue(forKey: tid)?.process {
            process.threads -= 1
            // The last thread takes the process's descriptors with it.
            if process.threads <= 0 {
                process.descriptors.removeAll().forEach(closeRemote)
                shadowLocks?.processEnded(process)
                forgetStackedFilters(of: process)
            }
        }
        pendingExecutable.removeValue(forKey: tid)
        if log.enabled(.process) { log.write("[\(tid)] exited") }
    }

    func task(_ tid: pid_t) -> TaskState {
        if let task = tasks[tid] { return task }
        let task = TaskState(process: ProcessState(), fs: initialFs.copy())
        task.process.threads = 1
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
