import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// execve / execveat: run the program's view of the file, and for a `#!` script
/// whose interpreter or script is translated, run the interpreter directly (the
/// kernel would look the interpreter up on the host).
extension Agent {
    func installExecHandlers() {
        install("execve") { [unowned self] stop, tracee, task in
            try handleExec(stop, tracee: tracee, task: task, name: "execve", argvArg: 1)
        }
        install("execveat") { [unowned self] stop, tracee, task in
            try handleExec(stop, tracee: tracee, task: task, name: "execveat", argvArg: 2)
        }
    }

    func handleExec(_ stop: SyscallStop, tracee: Tracee, task: TaskState, name: String, argvArg: Int) throws -> Resume {
        var outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: PathSyscalls.table[name]!)
        if let remote = outcome.remoteArguments {
            // The kernel runs a local copy; the program sees the remote name.
            guard let argument = remote.first, let location = argument.resolution.remote, argument.descriptor == nil else {
                return try emulateRemote(name, stop, task: task, remote)
            }
            if let refusal = try shapeRefusal(name, stop, remote) {  // "prog/"
                try stop.fail(refusal)
                return .proceed
            }
            let copy: String
            do throws(ServiceError) { copy = try executableCopy(of: location) } catch {
                if log.enabled(.namespace) { log.write("[\(stop.tid)] \(name) \(location): \(error)") }
                try stop.fail(error.errno)
                return .proceed
            }
            outcome = .translated([ResolvedArgument(
                spec: argument.spec, original: argument.original, originalDirfd: argument.originalDirfd, followed: true,
                resolution: Resolution(hostPath: copy, virtualPath: location.virtualPath, entry: nil, translated: true))])
        }
        guard let script = outcome.arguments.first else {
            return try apply(outcome, stop, tracee)
        }
        pendingExecutable[stop.tid] = script.resolution.virtualPath
        guard let shebang = Shebang(hostPath: script.resolution.hostPath) else {
            noteProgramInterpreter(script.resolution.hostPath)
            return try apply(outcome, stop, tracee)
        }
        let interpreterPath = shebang.interpreter.hasPrefix("/")
            ? shebang.interpreter : PathName.join(task.fs.cwd, shebang.interpreter)
        guard case .resolved(let interpreter) = resolver.resolve(interpreterPath, followFinal: true) else {
            return try apply(outcome, stop, tracee)  // the kernel reports the missing interpreter
        }
        // /proc/self/exe of a script is its interpreter.
        pendingExecutable[stop.tid] = interpreter.virtualPath
        if recorder?.recordsNames == true {
            recorder?.noteName(interpreter.virtualPath, .execute)
            noteProgramInterpreter(interpreter.hostPath)
        }
        guard interpreter.translated || script.resolution.translated else { return try apply(outcome, stop, tracee) }
        guard interpreter.mode.contains(.execute) else { try stop.fail(EACCES); return .proceed }

        // argv becomes: interpreter [optional-arg] script-as-given original-argv[1...]
        let originalArgv = try readPointerArray(stop, stop.args[argvArg])
        var strings: [[UInt8]] = [Array(interpreter.hostPath.utf8) + [0], Array(shebang.interpreter.utf8) + [0]]
        if let argument = shebang.argument { strings.append(Array(argument.utf8) + [0]) }
        // The script as the program named it; relative to a directory fd, the
        // interpreter could not find it that way: give it the full path.
        let viaDirfd = script.original.first != UInt8(ascii: "/")
            && script.originalDirfd.map { Int32(truncatingIfNeeded: $0) != Int32(Self.atFdcwd) } ?? false
        strings.append((viaDirfd ? Array(script.resolution.virtualPath.utf8) : script.original) + [0])
        let pointerCount = strings.count - 1 + max(originalArgv.count - 1, 0) + 1
        var scratch = Scratch(below: stop.stackPointer,
                              size: strings.reduce(0) { $0 + $1.count } + 8 + pointerCount * 8)
        let addresses = strings.map { scratch.place($0) }
        let pointers = Array(addresses.dropFirst()) + Array(originalArgv.dropFirst()) + [0]
        let pointerBytes = pointers.withUnsafeBytes { Array($0) }
        let argvAddress = scratch.place(pointerBytes, alignment: 8)
        try scratch.commit(to: stop.memory)
        try stop.setArgument(script.spec.path, addresses[0])
        if let dirfd = script.spec.dirfd { try stop.setArgument(dirfd, UInt64(bitPattern: Self.atFdcwd)) }
        try stop.setArgument(argvArg, argvAddress)
        if log.enabled(.namespace) {
            log.write("[\(stop.tid)] #! \(interpreter.virtualPath) runs \(String(decoding: script.original, as: UTF8.self))")
        }
        return .proceed
    }

    /// The kernel opens an ELF program's loader (PT_INTERP) itself, untrapped:
    /// a name list must still say the job needed it.
    func noteProgramInterpreter(_ hostPath: String) {
        guard let recorder, recorder.recordsNames, let loader = ElfInterpreter.path(ofProgram: hostPath) else { return }
        recorder.noteName(options.mounts.virtualPath(forHost: loader), .execute)
    }

    /// A NULL-terminated array of pointers in the tracee (argv).
    func readPointerArray(_ stop: SyscallStop, _ address: UInt64) throws -> [UInt64] {
        guard address != 0 else { return [] }
        var result: [UInt64] = []
        var cursor = address
        while result.count < 1 << 20 {
            let chunk = try stop.memory.read(cursor, count: 8 * 32)
            let values = chunk.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
            for value in values {
                if value == 0 { return result }
                result.append(value)
            }
            cursor += UInt64(chunk.count)
        }
        throw TracerError(description: "argv too long", errno: E2BIG)
    }
}

extension PathOutcome {
    var arguments: [ResolvedArgument] {
        switch self {
        case .unchanged(let list), .translated(let list): return list
        case .refused: return []
        }
    }
}

/// The `#!` line of a script, as the kernel parses it: the interpreter, then
/// everything after it (trimmed) as one optional argument.
struct Shebang {
    let interpreter: String
    let argument: String?

    init?(hostPath: String) {
        let fd = open(hostPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        guard n > 2 else { return nil }
        self.init(bytes: Array(buffer[0..<n]))
    }

    init?(bytes: [UInt8]) {
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        let line = bytes.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
        let text = String(decoding: line, as: UTF8.self)
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let trimmed = text.drop(while: isBlank)
        guard let end = trimmed.firstIndex(where: isBlank) ?? (trimmed.isEmpty ? nil : trimmed.endIndex) else {
            return nil
        }
        interpreter = String(trimmed[..<end])
        let rest = trimmed[end...].drop(while: isBlank)
        let argument = String(rest.reversed().drop(while: isBlank).reversed())
        self.argument = argument.isEmpty ? nil : argument
    }
}

/// The PT_INTERP of a 64-bit ELF file, read from its program headers.
enum ElfInterpreter {
    static func path(ofProgram path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        func read(_ count: Int, at offset: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            return pread(fd, &bytes, count, off_t(offset)) == count ? bytes : nil
        }
        // "\x7fELF", 64-bit, little-endian.
        guard let header = read(64, at: 0), header[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]),
              header[4] == 2, header[5] == 1 else { return nil }
        let tableOffset = Int(header.load(UInt64.self, at: 32))
        let entrySize = Int(header.load(UInt16.self, at: 54)), count = Int(header.load(UInt16.self, at: 56))
        guard entrySize >= 56, count < 256 else { return nil }
        for index in 0..<count {
            guard let entry = read(56, at: tableOffset + index * entrySize) else { return nil }
            guard entry.load(UInt32.self, at: 0) == 3 else { continue }  // PT_INTERP
            let size = Int(entry.load(UInt64.self, at: 32))
            guard size > 1, size < 4096, let name = read(size, at: Int(entry.load(UInt64.self, at: 8))) else { return nil }
            return String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        }
        return nil
    }
}
