import ArgumentParser
import CParrotShim
import ParrotAgent
import ParrotCache
import ParrotChirp
import ParrotFilter
import ParrotHTTP
import ParrotNamespace
import ParrotServices
import ParrotSandbox
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program under the agent (also installed as parrot_run).")

    @Option(name: [.customShort("m"), .customLong("mount-file")],
            help: "Mount list: lines of PREFIX REDIRECT [MODE]; REDIRECT a path, DENY, ENOENT or LOCAL.")
    var mountFiles: [String] = []

    @Option(name: [.customShort("M"), .customLong("mount")], help: "Mount one prefix: /prefix=/redirect.")
    var mounts: [String] = []

    @Option(name: [.customShort("w"), .customLong("work-dir")], help: "Start the program in this directory.")
    var workDir: String?

    @Option(name: [.customShort("t"), .customLong("tempdir")], help: "Directory for the agent's cache and temporary files.")
    var tempDir: String?

    @Option(name: [.customShort("d"), .customLong("debug")],
            help: "Debug log flags: syscall, namespace, process, all.")
    var debugFlags: [String] = []

    @Option(name: [.customShort("o"), .customLong("debug-file")], help: "Write the debug log here (default stderr).")
    var debugFile: String?

    @Option(name: [.customShort("c"), .customLong("status-file")], help: "Write how the program ended to this file.")
    var statusFile: String?

    @Option(name: [.customShort("T"), .customLong("timeout")], parsing: .unconditional,
            help: "Seconds to keep retrying a failing remote service.")
    var timeout: Double = 300

    @Option(name: [.customShort("b"), .customLong("block-size")], parsing: .unconditional,
            help: "st_blksize of remote files, in bytes (K and M suffixes): the size programs read and write them in.")
    var blockSize: String = "1M"

    @Option(name: [.customShort("a"), .customLong("auth")],
            help: "Chirp authentication methods to try, in order: unix, hostname, address (default all three).")
    var authMethods: [String] = []

    @Option(name: .customLong("ca-file"), help: "PEM file of certificate authorities that HTTPS and FTPS servers are checked against (default: the system's).")
    var caFile: String?

    @Option(name: .customLong("netrc"), help: "netrc file of FTP logins (machine HOST login USER password PASS; default: $HOME/.netrc if present).")
    var netrc: String?

    @Option(name: [.customShort("p"), .customLong("proxy")], help: "HTTP proxy host:port for /http and /https (default: HTTP_PROXY).")
    var proxy: String?

    @Flag(name: .customLong("no-cache"),
          help: "Stream every remote read through a virtual descriptor instead of reading whole-file cached copies.")
    var noCache = false

    @Flag(name: [.customShort("S"), .customLong("session-cache")],
          help: "Check each cached remote file with its server once per run only.")
    var sessionCache = false

    @Option(name: .customLong("attr-timeout"), parsing: .unconditional,
            help: "Seconds to keep a server's answer to stat, found or not, and data read ahead (0: ask every time; with -S: the whole run).")
    var attributeTimeout: Double = 1

    @Option(name: .customLong("cache-size"), help: "Evict least recently used cached files beyond this size (K, M, G suffixes).")
    var cacheSize: String = "2G"

    @Option(name: .customLong("stats-file"),
            help: "At exit, write a JSON report of what the job did (processes, trapped calls, remote I/O) here.")
    var statsFile: String?

    @Flag(name: [.customShort("W"), .customLong("syscall-table")], help: "At exit, print a table of trapped calls.")
    var syscallTable = false

    @Option(name: .customLong("name-list"),
            help: "Write every path the job resolved here, one per line as USE<TAB>PATH (stat, read, execute, write).")
    var nameList: String?

    @Option(name: .customLong("env-list"),
            help: "Write the job's environment at start here (NAME=VALUE entries, each ending in a NUL byte).")
    var envList: String?

    @Option(name: .customLong("on-unknown"), help: "For an unclassified syscall: fail (ENOSYS) or kill.")
    var onUnknown: String = "fail"

    @Option(name: .customLong("spin-us"), parsing: .unconditional,
            help: "Microseconds the agent polls for the next stop before it sleeps (0: never poll).")
    var spinMicroseconds: UInt64 = 50

    @Flag(name: .customLong("ptrace-only"),
          help: "Stop the program under ptrace for every trapped call. By default reads and writes of remote files are answered through a seccomp user-notification listener (Linux 5.19+), which is faster but takes the one listener a process may have: use this for programs that install their own.")
    var ptraceOnly = false

    @OptionGroup(title: "Sandbox and identity")
    var sandboxOptions: SandboxOptions

    @Argument(parsing: .captureForPassthrough, help: "-- COMMAND [ARGS...]")
    var command: [String] = []

    func run() throws {
        // The program gets the signals ignored that the agent got. The agent
        // itself ignores SIGPIPE: a server gone in the middle of a transfer
        // (sendfile has no MSG_NOSIGNAL) is an error to report, not its end.
        let ignoredSignals = SpawnSpec.currentlyIgnoredSignals()
        signal(SIGPIPE, SIG_IGN)
        // Pass-through capture swallows --help when it comes before any command.
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        let program = command.first == "--" ? Array(command.dropFirst()) : command
        guard !program.isEmpty else { throw ValidationError("missing the command to run: parrot run [options] -- COMMAND [ARGS...]") }
        guard let unknownAction = UnknownSyscallAction(rawValue: onUnknown) else {
            throw ValidationError("--on-unknown must be fail or kill, not '\(onUnknown)'")
        }
        guard timeout > 0 else { throw ValidationError("-T \(timeout): must be a positive number of seconds") }
        var flags = DebugLog.Flags()
        for name in debugFlags {
            guard let flag = DebugLog.Flags(name: name) else {
                throw ValidationError("unknown debug flag '\(name)'; use one of: "
                    + DebugLog.Flags.names.map(\.0).joined(separator: ", "))
            }
            flags.formUnion(flag)
        }
        var table = try Self.mountTable(files: mountFiles, options: mounts)
        if let tempDir { try Self.checkDirectory(tempDir, option: "-t") }
        let copies = tempDir.map { $0 + "/parrot-copies" }
            ?? (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/parrot-\(getuid())"
        if sandboxOptions.enabled {
            // Remote files the program must hold as real descriptors are local
            // copies there: the sandboxed program may use them.
            // Landlock needs the directory to exist to grant it.
            if mkdir(copies, 0o700) != 0 && errno != EEXIST {
                throw ValidationError("cannot make \(copies) for local copies: \(ErrnoName.name(of: errno))")
            }
            table.add(MountEntry(prefix: copies, target: .local, mode: .all, origin: "local copies of remote files"))
        }
        let sandbox = sandboxOptions.sandbox(for: table)
        if let sandbox {
            table = sandbox.table
            flags.insert(.denied)
        }
        guard let blockBytes = Self.byteCount(blockSize), blockBytes >= 512, blockBytes <= 1 << 30 else {
            throw ValidationError("-b \(blockSize): a size from 512 bytes to 1G, e.g. 65536, 64K or 1M")
        }
        // -T bounds a server that stops answering too, not only reconnects.
        var chirp = ChirpOptions()
        chirp.retryTimeout = timeout
        chirp.stallTimeout = min(chirp.stallTimeout, timeout)
        chirp.connectTimeout = min(chirp.connectTimeout, timeout)
        if !authMethods.isEmpty {
            chirp.authMethods = try authMethods.map { name in
                guard let method = ChirpAuthMethod(rawValue: name) else {
                    throw ValidationError("-a \(name): not an authentication method; use unix, hostname or address")
                }
                return method
            }
        }

        let hostCwd = Self.currentDirectory()
        var virtualCwd = workDir.map { $0.hasPrefix("/") ? $0 : PathName.join(hostCwd, $0) } ?? hostCwd
        var hostStartDir: String? = nil
        var http = HTTPOptions()
        http.retryTimeout = timeout
        http.stallTimeout = min(http.stallTimeout, timeout)
        http.proxy = proxy
        let variables = Dictionary(Self.environment().map { entry in
            (String(entry.prefix { $0 != "=" }), String(entry.drop { $0 != "=" }.dropFirst()))
        }, uniquingKeysWith: { first, _ in first })
        http.readEnvironment(variables)
        if let caFile {
            guard access(caFile, R_OK) == 0 else { throw ValidationError("--ca-file \(caFile): \(ErrnoName.name(of: errno))") }
            http.caFile = caFile
        }
        http.warn = { Self.complain($0) }  // complain says "parrot:"
        var ftp = try FTPSettings.options(netrc: netrc, environment: variables)
        ftp.caFile = http.caFile
        ftp.stallTimeout = min(ftp.stallTimeout, timeout)
        ftp.connectTimeout = min(ftp.connectTimeout, timeout)
        ftp.warn = http.warn
        let services = ServiceDrivers.factories(chirp: chirp, http: http, ftp: ftp)
        if workDir != nil {
            switch PathResolver(table: table, services: Set(services.keys)).resolve(virtualCwd, followFinal: true) {
            case .failed(let errno):
                throw ValidationError("-w \(workDir!): \(ErrnoName.name(of: errno))")
            case .resolved(let resolution):
                // A remote directory is the agent's to track; the kernel's stays ours.
                hostStartDir = resolution.remote == nil ? resolution.hostPath : nil
                if resolution.remote == nil {
                    // Named as getcwd names it: `..` and links resolved.
                    virtualCwd = table.isTrivial ? Self.realPath(resolution.hostPath) ?? resolution.virtualPath
                                                 : resolution.virtualPath
                }
            }
        }

        let logFd = try debugFile.map { try Self.openLog($0) } ?? 2
        let log = DebugLog(flags: flags, fd: logFd)
        var agentOptions = AgentOptions(mounts: table, workingDirectory: virtualCwd,
                                        onUnknownSyscall: unknownAction, log: log)
        agentOptions.services = services
        agentOptions.blockSize = blockBytes
        agentOptions.temporaryDirectory = copies
        guard attributeTimeout >= 0 else { throw ValidationError("--attr-timeout \(attributeTimeout): must be 0 or more seconds") }
        agentOptions.attributeLifetime = sessionCache && attributeTimeout > 0 ? .infinity : attributeTimeout
        if !noCache {
            guard let limit = Self.byteCount(cacheSize), limit > 0 else {
                throw ValidationError("--cache-size \(cacheSize): a size such as 500M or 2G")
            }
            agentOptions.cache = WholeFileCache(directory: copies + "/cache", sizeLimit: limit, trustSession: sessionCache)
        }
        agentOptions.sandboxed = sandbox != nil
        agentOptions.network = sandboxOptions.network
        agentOptions.identity = sandboxOptions.identity
        let policy = try sandboxOptions.policy(sandbox: sandbox)
        let report = statsFile != nil || syscallTable || nameList != nil
            ? JobReport(recorder: JobRecorder(syscallCount: policy.rules.map(\.number).max()! + 1, recordsNames: nameList != nil),
                        policy: policy, command: program, startedAt: JobReport.now())
            : nil
        agentOptions.recorder = report?.recorder
        // Report files are opened before the job runs, so a bad name costs nothing.
        let reportFiles = try [(statsFile, "--stats-file"), (nameList, "--name-list"), (envList, "--env-list")]
            .compactMap { file, option in try file.map { ($0, try Self.createFile($0, option: option)) } }
        let agent = Agent(policy: policy, options: agentOptions)
        do throws(ServiceError) { try agent.checkWorkingDirectory() } catch {
            throw ValidationError("-w \(workDir ?? ""): \(ErrnoName.name(of: error.errno)) (\(error))")
        }
        let (filter, answeringFilter) = try FilterCompiler.compileTrappingAndAnswering(policy)
        var environment = Self.environment()
        defer { reportFiles.forEach { $0.1.close() } }
        func reportFile(_ name: String?) -> LocalDescriptor? { reportFiles.first { $0.0 == name }?.1 }
        if let fd = reportFile(envList) { try Self.write(JobReport.environmentList(environment), to: fd, name: envList!) }
        if workDir != nil {
            environment = environment.filter { !$0.hasPrefix("PWD=") } + ["PWD=\(agent.startingDirectory)"]
        }
        var spec = SpawnSpec(file: program[0], arguments: program, environment: environment,
                             workingDirectory: hostStartDir, filter: filter,
                             ignoredSignals: ignoredSignals)
        // Nothing to answer without services: virtual descriptors never exist.
        if !ptraceOnly && !agent.namespaceIsTrivial {
            spec.answeredFilter = answeringFilter
        }
        if let sandbox {
            sandbox.report.forEach { log.write($0) }
            spec.landlockRuleset = try sandbox.makeRuleset()
            spec.landlockFlags = sandbox.restrictFlags
        }

        if let cache = agentOptions.cache { report?.recorder.cacheStatistics = { (cache.hits, cache.misses) } }
        let outcome: Result<Termination, Error> = TracerThread.run {
            let tracer = Tracer(handler: agent)
            tracer.spinNanoseconds = spinMicroseconds * 1000
            tracer.answeredNumbers = Set(policy.rules.compactMap { rule in
                if case .answerVirtualFD = rule.action { return UInt64(rule.number) } else { return nil }
            })
            return Result {
                defer { agent.finishRun() }
                return try tracer.run(spec, started: { parrot_forward_signals_to($0) }, mainExited: { parrot_stop_forwarding() })
            }
        }
        switch outcome {
        case .success(let termination):
            try writeStatus(termination)
            if let report {
                if let fd = reportFile(statsFile) { try Self.write(report.statistics(termination), to: fd, name: statsFile!) }
                if let fd = reportFile(nameList) { try Self.write(report.nameList(startDirectory: virtualCwd), to: fd, name: nameList!) }
                if syscallTable { log.write(report.syscallTable) }
            }
            throw ExitCode(termination.shellStatus)
        case .failure(let failure as StartFailure):
            Self.complain("\(program[0]): \(failure.description)")
            throw ExitCode(failure.status)
        case .failure(let error):
            throw error
        }
    }

    /// Replaces this process with the agent itself run with `arguments`.
    static func reexecute(_ arguments: [String], environment: [String]) throws -> Never {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        execve("/proc/self/exe", argv, envp)
        throw ValidationError("cannot run the agent again: \(ErrnoName.name(of: errno))")
    }

    static func createFile(_ path: String, option: String) throws -> LocalDescriptor {
        do throws(ServiceError) {
            return try LocalDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        } catch {
            throw ValidationError("\(option) \(path): \(ErrnoName.name(of: error.errno))")
        }
    }

    static func write(_ text: String, to file: LocalDescriptor, name: String) throws {
        do throws(ServiceError) {
            try file.writeAll(Array(text.utf8))
        } catch {
            throw ValidationError("\(name): \(ErrnoName.name(of: error.errno))")
        }
    }

    /// "65536", "64K", "1M", "1G".
    static func byteCount(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let last = text.last, let unit = units[last] { return Int64(text.dropLast()).map { $0 * unit } }
        return Int64(text)
    }

    func writeStatus(_ termination: Termination) throws {
        guard let statusFile else { return }
        let text: String
        switch termination {
        case .exited(let code): text = "exit \(code)\n"
        case .signaled(let sig): text = "signal \(sig) \(String(cString: strsignal(sig)))\n"
        }
        guard let file = fopen(statusFile, "w") else {
            throw ValidationError("-c \(statusFile): \(ErrnoName.name(of: errno))")
        }
        fputs(text, file)
        fclose(file)
    }

    static func mountTable(files: [String], options: [String]) throws -> MountTable {
        var table = MountTable()
        do {
            for file in files {
                guard let text = readFile(file) else {
                    throw ValidationError("-m \(file): \(ErrnoName.name(of: errno))")
                }
                for entry in try MountList.parse(text, file: file) { table.add(entry) }
            }
            for option in options { table.add(try MountList.parseOption(option)) }
        } catch let error as MountListError {
            throw ValidationError(error.description)
        }
        return table
    }

    static func checkDirectory(_ path: String, option: String) throws {
        var st = stat()
        if stat(path, &st) != 0 {
            if mkdir(path, 0o700) != 0 { throw ValidationError("\(option) \(path): \(ErrnoName.name(of: errno))") }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw ValidationError("\(option) \(path): ENOTDIR")
        }
    }

    static func readFile(_ path: String) -> String? {
        (try? PackageBuilder.readFile(path)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func openLog(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0o644)
        guard fd >= 0 else { throw ValidationError("-o \(path): \(ErrnoName.name(of: errno))") }
        return fd
    }

    static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "/" }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    static func environment() -> [String] {
        var result: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            result.append(String(cString: entry))
            cursor += 1
        }
        return result
    }

    /// The kernel's name for a local directory (nil when it has none).
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func complain(_ message: String) {
        DebugLog().write(message)
    }
}
