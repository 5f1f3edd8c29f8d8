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
    /// A final symlink is followed.
    var followed = true
    let resolution: Resolution
    /// The virtual descriptor an empty (AT_EMPTY_PATH) or NULL path names.
    var descriptor: OpenFile?

    init(spec: PathArgument, original: [UInt8], originalDirfd: UInt64?, followed: Bool, resolution: Resolution) {
        self.spec = spec
        self.original = original
        self.originalDirfd = originalDirfd
        self.followed = followed
        self.resolution = resolution
    }

    init(descriptor file: OpenFile, spec: PathArgument) {
        self.spec = spec
        original = []
        originalDirfd = nil
        resolution = Resolution(hostPath: file.location.virtualPath, virtualPath: file.location.virtualPath,
                                entry: nil, translated: true, remote: file.location)
        descriptor = file
        // An O_PATH | O_NOFOLLOW descriptor of a symbolic link is the link.
        followed = !file.isLinkItself
    }
}

enum PathOutcome {
    /// Every path means what the kernel would make of it: run the call unchanged.
    case unchanged([ResolvedArgument])
    /// Some path goes through a mount entry: rewrite before running.
    case translated([ResolvedArgument])
    case refused(Int32)

    /// The arguments, when one of them leads into a remote service.
    var remoteArguments: [ResolvedArgument]? {
        guard case .translated(let list) = self, list.contains(where: { $0.resolution.remote != nil }) else { return nil }
        return list
    }
}

extension Agent {
    static let atFdcwd: Int64 = -100

    /// The generic path handler: resolve every path argument, enforce the
    /// entry's mode, rewrite what the mount table translates.
    func handlePathCall(_ stop: SyscallStop, tracee: Tracee, task: TaskState, name: String,
                        arguments: [PathArgument]) throws -> Resume {
        let outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: arguments)
        if let remote = outcome.remoteArguments {
            // (emulateRemote checks the path's spelling itself; a cached open must first.)
            if options.cache != nil, Self.openCalls.contains(name), let refusal = try shapeRefusal(name, stop, remote) {
                try stop.fail(refusal)
                return .proceed
            }
            if let cached = try openThroughCache(name, stop, tracee: tracee, remote) { return cached }
            return try emulateRemote(name, stop, task: task, remote)
        }
        return try apply(outcome, stop, tracee)
    }

    /// Without mount entries, paths that name no service, taken from real
    /// directories, mean what the kernel makes of them: decided from the bytes
    /// before anything else is looked up (the common stop must stay near the
    /// one-stop floor).
    func isPlainlyLocal(_ stop: SyscallStop, tracee: Tracee, arguments: [PathArgument]) -> Bool {
        if let last = (tracee.scratch as? ThreadMemo)?.lastRewrite, last.number == stop.number,
           last.instructionPointer == stop.instructionPointer { return false }  // maybe a restart of a rewrite
        for spec in arguments {
            if let dirfd = spec.dirfd, DescriptorTable.isVirtual(stop.int32(dirfd)) { return false }
            let pointer = stop.args[spec.path]
            // futimens: a descriptor of a cached copy may stand for a remote file.
            if pointer == 0 { if spec.nullAllowed && !cachedNames.isEmpty { return false }; continue }
            let local = stop.memory.peekCString(pointer) { bytes in
                if serviceNames.contains(where: { Self.contains(bytes, $0) }) || Self.mayNameVirtualDescriptor(bytes) {
                    prefetchedPaths.append((pointer, Array(bytes)))
                    return false
                }
                return true
            }
            if local != true { return false }
        }
        return true
    }

    /// /proc/.../fd/N or /dev/fd/N with N a virtual number (see procDescriptor).
    static func mayNameVirtualDescriptor(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count > 8, bytes[0] == UInt8(ascii: "/"),
              bytes.starts(with: "/proc/".utf8) || bytes.starts(with: "/dev/fd/".utf8) else { return false }
        let digits = bytes.reversed().prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !digits.isEmpty, digits.count <= 10 else { return false }
        let number = digits.reversed().reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        return number >= Int64(VirtualDescriptor.base) && number < VirtualDescriptor.end
    }

    /// Whether `bytes` are not valid UTF-8 (ASCII, nearly every path, is at once).
    static func isNotText(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 >= 0x80 } && String(validating: bytes, as: UTF8.self) == nil
    }

    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
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
            var dirfdValue = spec.dirfd.map { stop.args[$0] }
            let dirfd = dirfdValue.map { Int32(truncatingIfNeeded: $0) } ?? Int32(Self.atFdcwd)
            if pointer == 0 {
                // utimensat(fd, NULL, ...) names the descriptor itself.
                if spec.nullAllowed, let file = task.process.descriptors[dirfd]?.file {
                    resolved.append(ResolvedArgument(descriptor: file, spec: spec))
                    translated = true
                }
                if spec.nullAllowed { continue }
                return .unchanged([])  // the kernel answers EFAULT
            }
            let raw: [UInt8]
            if let original = memo.original(of: spec.path, in: stop) {
                raw = original.path
                dirfdValue = original.dirfd
            } else if let prefetched = prefetchedPaths.first(where: { $0.address == pointer }) {
                raw = prefetched.bytes
            } else {
                do { raw = try stop.memory.readCString(pointer) } catch let error as TracerError {
                    if error.errno == ENAMETOOLONG { return .refused(ENAMETOOLONG) }
                    return .unchanged([])  // unreadable: the kernel answers EFAULT
                }
            }
            let virtualDirectory = DescriptorTable.isVirtual(dirfd) ? task.process.descriptors[dirfd]?.file : nil
            if DescriptorTable.isVirtual(dirfd) && virtualDirectory == nil && raw.first != UInt8(ascii: "/") {
                return .refused(EBADF)
            }
            // An empty path names the descriptor itself (AT_EMPTY_PATH) or is ENOENT.
            if raw.isEmpty {
                if let file = virtualDirectory {
                    resolved.append(ResolvedArgument(descriptor: file, spec: spec))
                    translated = true
                }
                continue
            }
            let path = String(decoding: raw, as: UTF8.self)
            let absolute: String
            if raw.first == UInt8(ascii: "/") {
                // The link leads to the open file only where it is followed:
                // unlink, rename, lstat and readlink act on /proc's link itself.
                if let file = procDescriptor(path, tid: stop.tid), try shouldFollow(spec.follow, stop) {
                    resolved.append(ResolvedArgument(descriptor: file, spec: spec))
                    translated = true
                    continue
                }
                absolute = path
            } else if let file = virtualDirectory {
                guard file.isDirectory else { return .refused(ENOTDIR) }
                absolute = PathName.join(file.location.virtualPath, path)
            } else if dirfd != Int32(Self.atFdcwd) {
                if !mayLeaveDirectory(raw) && recorder?.recordsNames != true {
                    // Below a real directory and naming no service: the kernel's business.
                    resolved.append(ResolvedArgument(spec: spec, original: raw, originalDirfd: dirfdValue, followed: true,
                                                     resolution: Resolution(hostPath: path, virtualPath: path,
                                                                            entry: nil, translated: false)))
                    continue
                }
                guard let base = descriptorPath(stop.tid, dirfd, task: task) else {
                    return .refused(EBADF)
                }
                absolute = PathName.join(base, path)
            } else {
                absolute = PathName.join(task.fs.cwd, path)
            }
            // A trailing slash follows the last link (lstat("link/") is the
            // directory's), but for calls on the entry itself, which the
            // kernel then refuses: the slash stays for it (or the server) to judge.
            let trailingSlash = Self.asksForDirectory(raw)
            let entryItself = if case .entry = spec.follow { trailingSlash } else { false }
            let follow = try shouldFollow(spec.follow, stop) || (trailingSlash && !entryItself)
            var outcome = resolver.resolve(entryItself ? PathName.trimmed(absolute) : absolute, followFinal: follow)
            if case .resolved(let resolution) = outcome, resolution.remoteSpelling != nil {
                outcome = physicalParents(resolution, known: task.fs.remoteCwd, follow: follow,
                                          trailingSlash: trailingSlash && !entryItself)
            }
            if case .entry = spec.follow, case .resolved(let resolution) = outcome, resolution.translated,
               let refusal = dotEntryRefusal(stop, raw) {
                // The directory before the dot is looked up first, as the kernel does.
                return .refused(directoryRefusal(PathName.split(absolute)?.directory ?? "/") ?? refusal)
            }
            if entryItself, case .resolved(let resolution) = outcome, resolution.remote == nil, resolution.hostPath != "/" {
                outcome = .resolved(Resolution(hostPath: resolution.hostPath + "/", virtualPath: resolution.virtualPath,
                                               entry: resolution.entry, translated: resolution.translated))
            }
            switch outcome {
            case .failed(let errno):
                if log.enabled(.namespace) || (errno == EACCES && log.enabled(.denied)) {
                    log.write("[\(stop.tid)] \(path) -> \(ErrnoName.name(of: errno))")
                }
                return .refused(errno)
            case .resolved(var resolution):
                if log.enabled(.namespace) && resolution.translated {
                    log.write("[\(stop.tid)] \(path) -> \(resolution.remote?.description ?? resolution.hostPath)")
                }
                let needed = try neededAccess(spec.use, stop)
                if !resolution.mode.isSuperset(of: needed) {
                    if log.enabled(.namespace) || log.enabled(.denied) {
                        log.write("[\(stop.tid)] \(path): \(needed) not allowed by \(resolution.entry?.origin ?? "mount list")")
                    }
                    return .refused(EACCES)
                }
                if task.fs.remoteCwd != nil && !resolution.translated && raw.first != UInt8(ascii: "/") {
                    // The kernel's cwd is not the program's: hand it the full path.
                    resolution = Resolution(hostPath: resolution.hostPath, virtualPath: resolution.virtualPath,
                                            entry: resolution.entry, translated: true)
                }
                // A path the agent rewrites or sends is text: bytes that are no
                // UTF-8 would come out as other bytes, naming another file.
                if resolution.translated && Self.isNotText(raw) {
                    if log.enabled(.namespace) { log.write("[\(stop.tid)] \(path): not UTF-8 -> EILSEQ") }
                    return .refused(EILSEQ)
                }
                translated = translated || resolution.translated
                if let recorder {
                    if recorder.recordsNames { recorder.noteName(resolution.virtualPath, nameUse(needed, spec.use)) }
                    if let entry = resolution.entry { recorder.noteMount(entry) }
                }
                resolved.append(ResolvedArgument(spec: spec, original: raw, originalDirfd: dirfdValue,
                                                 followed: follow, resolution: resolution))
            }
        }
        return translated ? .translated(resolved) : .unchanged(resolved)
    }

    /// Whether a relative path could lead from a real directory into a service
    /// or a mount: only through `..` or a service's name, unless mounts exist.
    func mayLeaveDirectory(_ raw: [UInt8]) -> Bool {
        guard options.mounts.isTrivial else { return true }
        let first = raw.split(separator: UInt8(ascii: "/"), maxSplits: 1).first ?? []
        if first.elementsEqual("..".utf8) { return true }
        return resolver.services.contains { first.elementsEqual($0.utf8) }
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
    func descriptorPath(_ tid: pid_t, _ fd: Int32, task: TaskState) -> String? {
        if DescriptorTable.isVirtual(fd) { return task.process.descriptors[fd]?.file.location.virtualPath }
        guard let host = RealHostFileSystem().readLink(hostPath: "/proc/\(tid)/fd/\(fd)"),
              host.hasPrefix("/") else { return nil }
        return options.mounts.virtualPath(forHost: host)
    }

    /// How a name list reports a use.
    func nameUse(_ needed: AccessMode, _ use: PathArgument.Use) -> JobRecorder.NameUse {
        if needed.contains(.write) { return .write }
        if needed.contains(.execute) { return .execute }
        if case .accessMode = use { return .stat }
        return needed.contains(.read) ? .read : .stat
    }

    func shouldFollow(_ follow: PathArgument.Follow, _ stop: SyscallStop) throws -> Bool {
        switch follow {
        case .always: return true
        case .never, .entry: return false
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
