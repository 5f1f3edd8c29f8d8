import ParrotFilter
import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// One resolved path argument of a trapped call.
struct ResolvedArgument {
    let spec: PathArgument
    let original: [UInt8]
    let originalDirfd: UInt64?
    let resolution: Resolution
}

enum PathOutcome {
    /// Every path means what the kernel would make of it: run the call unchanged.
    case unchanged([ResolvedArgument])
    /// Some path goes through a mount entry: rewrite before running.
    case translated([ResolvedArgument])
    case refused(Int32)
}

extension Agent {
    static let atFdcwd: Int64 = -100

    /// The generic path handler: resolve every path argument, enforce the
    /// entry's mode, rewrite what the mount table translates.
    func handlePathCall(_ stop: SyscallStop, tracee: Tracee, task: TaskState,
                        arguments: [PathArgument]) throws -> Resume {
        try apply(resolvePaths(stop, tracee: tracee, task: task, arguments: arguments), stop, tracee)
    }

    /// Runs the outcome of a resolution: fail, leave alone, or rewrite.
    func apply(_ outcome: PathOutcome, _ stop: SyscallStop, _ tracee: Tracee) throws -> Resume {
        switch outcome {
        case .refused(let errno): try stop.fail(errno)
        case .unchanged: break
        case .translated(let list): try rewrite(stop, tracee: tracee, list)
        }
        return .proceed
    }

    func resolvePaths(_ stop: SyscallStop, tracee: Tracee, task: TaskState,
                      arguments: [PathArgument]) throws -> PathOutcome {
        let memo = ThreadMemo.of(tracee)
        var resolved: [ResolvedArgument] = []
        var translated = false
        for spec in arguments {
            let pointer = stop.args[spec.path]
            if pointer == 0 {
                if spec.nullAllowed { continue }
                return .unchanged([])  // the kernel answers EFAULT
            }
            let raw: [UInt8]
            var dirfdValue = spec.dirfd.map { stop.args[$0] }
            if let original = memo.original(of: spec.path, in: stop) {
                raw = original.path
                dirfdValue = original.dirfd
            } else {
                do { raw = try stop.memory.readCString(pointer) } catch let error as TracerError {
                    if error.errno == ENAMETOOLONG { return .refused(ENAMETOOLONG) }
                    return .unchanged([])  // unreadable: the kernel answers EFAULT
                }
            }
            // An empty path names the descriptor itself (AT_EMPTY_PATH) or is ENOENT.
            if raw.isEmpty { continue }
            let path = String(decoding: raw, as: UTF8.self)
            let absolute: String
            if raw.first == UInt8(ascii: "/") {
                absolute = path
            } else if let dirfd = dirfdValue, Int32(truncatingIfNeeded: dirfd) != Int32(Self.atFdcwd) {
                guard let base = descriptorPath(stop.tid, Int32(truncatingIfNeeded: dirfd)) else {
                    return .refused(EBADF)
                }
                absolute = PathName.join(base, path)
            } else {
                absolute = PathName.join(task.fs.cwd, path)
            }
            let follow = try shouldFollow(spec.follow, stop)
            switch resolver.resolve(absolute, followFinal: follow) {
            case .failed(let errno):
                if log.enabled(.namespace) || (errno == EACCES && log.enabled(.denied)) {
                    log.write("[\(stop.tid)] \(path) -> \(ErrnoName.name(of: errno))")
                }
                return .refused(errno)
            case .resolved(let resolution):
                if log.enabled(.namespace) && resolution.translated {
                    log.write("[\(stop.tid)] \(path) -> \(resolution.hostPath)")
                }
                let needed = try neededAccess(spec.use, stop)
                if !resolution.mode.isSuperset(of: needed) {
                    if log.enabled(.namespace) || log.enabled(.denied) {
                        log.write("[\(stop.tid)] \(path): \(needed) not allowed by \(resolution.entry?.origin ?? "mount list")")
                    }
                    return .refused(EACCES)
                }
                translated = translated || resolution.translated
                resolved.append(ResolvedArgument(spec: spec, original: raw, originalDirfd: dirfdValue,
                                                 resolution: resolution))
            }
        }
        return translated ? .translated(resolved) : .unchanged(resolved)
    }

    /// Writes the host paths below the tracee's stack and points the arguments at them.
    func rewrite(_ stop: SyscallStop, tracee: Tracee, _ resolved: [ResolvedArgument]) throws {
        let strings = resolved.filter(\.resolution.translated).map { ($0, Array($0.resolution.hostPath.utf8) + [0]) }
        var scratch = Scratch(below: stop.stackPointer, size: strings.reduce(0) { $0 + $1.1.count })
        var placed: [(ResolvedArgument, UInt64)] = []
        for (argument, bytes) in strings { placed.append((argument, scratch.place(bytes))) }
        try scratch.commit(to: stop.memory)
        var memoArguments: [Int: (address: UInt64, path: [UInt8], dirfd: UInt64?)] = [:]
        for (argument, address) in placed {
            try stop.setArgument(argument.spec.path, address)
            if let dirfd = argument.spec.dirfd {
                try stop.setArgument(dirfd, UInt64(bitPattern: Self.atFdcwd))
            }
            memoArguments[argument.spec.path] = (address, argument.original, argument.originalDirfd)
        }
        ThreadMemo.of(tracee).lastRewrite = ThreadMemo.Rewrite(
            number: stop.number, instructionPointer: stop.instructionPointer,
            stackPointer: stop.stackPointer, arguments: memoArguments)
    }

    /// The program's view of what descriptor `fd` of task `tid` names.
    func descriptorPath(_ tid: pid_t, _ fd: Int32) -> String? {
        guard let host = RealHostFileSystem().readLink(hostPath: "/proc/\(tid)/fd/\(fd)"),
              host.hasPrefix("/") else { return nil }
        return options.mounts.virtualPath(forHost: host)
    }

    func shouldFollow(_ follow: PathArgument.Follow, _ stop: SyscallStop) throws -> Bool {
        switch follow {
        case .always: return true
        case .never: return false
        case .unlessFlag(let arg, let flag): return stop.args[arg] & flag == 0
        case .ifFlag(let arg, let flag): return stop.args[arg] & flag != 0
        case .openFlags(let arg): return OpenFlags(stop.args[arg]).followsFinalSymlink
        case .openHow(let arg): return OpenFlags(try openHowFlags(stop, arg)).followsFinalSymlink
        }
    }

    func neededAccess(_ use: PathArgument.Use, _ stop: SyscallStop) throws -> AccessMode {
        switch use {
        case .stat: return []
        case .read: return .read
        case .write: return .write
        case .execute: return .execute
        case .openFlags(let arg): return OpenFlags(stop.args[arg]).access
        case .openHow(let arg): return OpenFlags(try openHowFlags(stop, arg)).access
        case .accessMode(let arg):
            let mode = stop.args[arg]
            var needed: AccessMode = []
            if mode & 4 != 0 { needed.insert(.read) }
            if mode & 2 != 0 { needed.insert(.write) }
            if mode & 1 != 0 { needed.insert(.execute) }
            return needed
        }
    }

    /// The flags field of openat2's struct open_how.
    func openHowFlags(_ stop: SyscallStop, _ arg: Int) throws -> UInt64 {
        let bytes = try stop.memory.read(stop.args[arg], count: 8)
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

/// open(2) flags, as far as the namespace cares.
struct OpenFlags {
    let value: UInt64
    init(_ value: UInt64) { self.value = value }

    static let accessModeMask: UInt64 = 3
    static let create: UInt64 = 0o100
    static let exclusive: UInt64 = 0o200
    static let truncate: UInt64 = 0o1000
    static let noFollow: UInt64 = 0o400000
    static let pathOnly: UInt64 = 0o10000000

    var followsFinalSymlink: Bool {
        value & Self.noFollow == 0 && value & (Self.create | Self.exclusive) != (Self.create | Self.exclusive)
    }

    var access: AccessMode {
        if value & Self.pathOnly != 0 { return [] }
        var mode: AccessMode = []
        let accessMode = value & Self.accessModeMask
        if accessMode != 1 { mode.insert(.read) }
        if accessMode != 0 || value & (Self.create | Self.truncate) != 0 { mode.insert(.write) }
        return mode
    }
}

/// Bytes placed below the tracee's stack pointer (past the red zone) and written
/// with one process_vm_writev. The size is fixed up front so that addresses are
/// known while the contents are being laid out (argv arrays point into it).
struct Scratch {
    static let redZone: UInt64 = 128
    let base: UInt64
    let capacity: Int
    var bytes: [UInt8] = []

    init(below stackPointer: UInt64, size: Int) {
        capacity = size + 16
        base = (stackPointer - Self.redZone - UInt64(capacity)) & ~15
    }

    /// Appends `data` (aligned) and returns the address it will have.
    mutating func place(_ data: [UInt8], alignment: Int = 1) -> UInt64 {
        while bytes.count % alignment != 0 { bytes.append(0) }
        let offset = bytes.count
        bytes.append(contentsOf: data)
        precondition(bytes.count <= capacity, "scratch overflow")
        return base + UInt64(offset)
    }

    func commit(to memory: TraceeMemory) throws {
        try memory.write(bytes, to: base)
    }
}
