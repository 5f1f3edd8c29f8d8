import CParrotShim
import ParrotFilter
#if canImport(Glibc)
import Glibc
#endif

/// What to run under the tracer.
public struct SpawnSpec {
    public var file: String
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String?
    public var filter: CompiledFilter
    /// The same policy with answered calls (FilterCompiler `answering:`): used
    /// instead of `filter` when the kernel can give the agent their listener.
    public var answeredFilter: CompiledFilter?
    /// Signals that were ignored when the agent started stay ignored in the program.
    public var ignoredSignals: UInt64
    /// A Landlock ruleset (ParrotSandbox) the child enters before exec, or -1.
    public var landlockRuleset: Int32 = -1
    public var landlockFlags: UInt32 = 0

    public init(file: String, arguments: [String], environment: [String],
                workingDirectory: String?, filter: CompiledFilter, ignoredSignals: UInt64) {
        self.file = file
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.filter = filter
        self.ignoredSignals = ignoredSignals
    }

    /// The signals currently set to SIG_IGN in this process.
    public static func currentlyIgnoredSignals() -> UInt64 {
        var mask: UInt64 = 0
        for sig in 1..<65 {
            var old = sigaction()
            if sigaction(Int32(sig), nil, &old) == 0,
               unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == 1 {  // SIG_IGN
                mask |= 1 << UInt64(sig - 1)
            }
        }
        return mask
    }
}

/// Why the program did not start.
public struct StartFailure: Error, CustomStringConvertible {
    public let description: String
    /// The shell convention: 127 not found, 126 not executable, 125 agent trouble.
    public let status: Int32
}

/// Forks the child (C, async-signal-safe until exec) and returns its pid stopped
/// and seized, the read end of its failure pipe, and the socket its listener
/// for answered calls comes through before it executes the program (or -1).
func spawnStopped(_ spec: SpawnSpec) throws -> (pid: pid_t, reportFd: Int32, listenerSocket: Int32) {
    var pipeFds: [Int32] = [-1, -1]
    guard parrot_pipe_cloexec(&pipeFds) == 0 else {
        throw StartFailure(description: "pipe: \(errnoName(errno))", status: 125)
    }
    var socketFds: [Int32] = [-1, -1]
    if spec.answeredFilter != nil, parrot_socketpair_cloexec(&socketFds) != 0 {
        socketFds = [-1, -1]  // the traps alone then
    }
    let answered = spec.answeredFilter?.bytes ?? []
    let pid: pid_t = withCStrings(spec.arguments) { argv in
        withCStrings(spec.environment) { envp in
            spec.filter.bytes.withUnsafeBytes { filter in
                answered.withUnsafeBytes { answeredFilter in
                    spec.file.withCString { file in
                        withOptionalCString(spec.workingDirectory) { cwd in
                            var request = parrot_spawn_request(
                                file: file, argv: argv, envp: envp, cwd: cwd,
                                filter: filter.baseAddress, filter_len: UInt16(spec.filter.instructionCount),
                                ignored_signals: spec.ignoredSignals, report_fd: pipeFds[1],
                                landlock_fd: spec.landlockRuleset, landlock_flags: spec.landlockFlags,
                                answered_filter: answered.isEmpty ? nil : answeredFilter.baseAddress,
                                answered_filter_len: UInt16(answered.count / 8), listener_socket: socketFds[1])
                            return parrot_spawn(&request)
                        }
                    }
                }
            }
        }
    }
    close(pipeFds[1])
    if socketFds[1] >= 0 { close(socketFds[1]) }
    if pid < 0 {
        close(pipeFds[0])
        if socketFds[0] >= 0 { close(socketFds[0]) }
        throw StartFailure(description: "fork: \(errnoName(-pid))", status: 125)
    }
    // Wait until the child has stopped itself, then seize it.
    var status: Int32 = 0
    while true {
        let r = waitpid(pid, &status, WUNTRACED)
        if r < 0 && errno == EINTR { continue }
        if r < 0 || !(parrot_wifstopped(status) != 0) {
            if socketFds[0] >= 0 { close(socketFds[0]) }
            let failure = readSpawnFailure(pipeFds[0])  // closes it
            throw failure ?? StartFailure(description: "the child exited before it could be traced", status: 125)
        }
        break
    }
    let options = Ptrace.optSysGood | Ptrace.optFork | Ptrace.optVfork | Ptrace.optClone
        | Ptrace.optExec | Ptrace.optSeccomp | Ptrace.optExitKill
    let rc = parrot_ptrace(Ptrace.seize, pid, 0, options)
    if rc < 0 {
        kill(pid, SIGKILL)
        waitpid(pid, nil, 0)
        close(pipeFds[0])
        if socketFds[0] >= 0 { close(socketFds[0]) }
        let reason = Int32(-rc) == EPERM
            ? "ptrace is not permitted here (PTRACE_SEIZE: EPERM); parrot needs ptrace: check kernel.yama.ptrace_scope and the container's seccomp profile"
            : "PTRACE_SEIZE failed: \(errnoName(Int32(-rc)))"
        throw StartFailure(description: reason, status: 125)
    }
    kill(pid, SIGCONT)
    return (pid, pipeFds[0], socketFds[0])
}

/// The child's report, if it failed before running the program.
func readSpawnFailure(_ fd: Int32) -> StartFailure? {
    var failure = parrot_spawn_failure()
    let n = withUnsafeMutableBytes(of: &failure) { read(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard n == MemoryLayout<parrot_spawn_failure>.size else { return nil }
    let err = errnoName(failure.error)
    switch Int(failure.stage) {
    case Int(PARROT_STAGE_CHDIR.rawValue):
        return StartFailure(description: "cannot change to the working directory: \(err)", status: 125)
    case Int(PARROT_STAGE_NNP.rawValue):
        return StartFailure(description: "prctl(PR_SET_NO_NEW_PRIVS) failed: \(err)", status: 125)
    case Int(PARROT_STAGE_SECCOMP.rawValue):
        return StartFailure(description: "the kernel refused the seccomp filter (\(err)); parrot needs seccomp-BPF (CONFIG_SECCOMP_FILTER) and a container profile that allows seccomp()", status: 125)
    case Int(PARROT_STAGE_LANDLOCK.rawValue):
        return StartFailure(description: "the kernel refused the Landlock sandbox: \(err)", status: 125)
    default:
        return StartFailure(description: "cannot execute: \(err)", status: failure.error == ENOENT ? 127 : 126)
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
