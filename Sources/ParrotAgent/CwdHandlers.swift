import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The current directory in the program's view: chdir, fchdir, getcwd, and the
/// /proc/self/{cwd,exe} links.
extension Agent {
    func installCwdHandlers() {
        install("getcwd") { stop, _, task in
            // getcwd(buf, size) returns the length including the NUL.
            let bytes = Array(task.fs.cwd.utf8) + [0]
            guard UInt64(bytes.count) <= stop.args[1] else { try stop.fail(ERANGE); return .proceed }
            try stop.memory.write(bytes, to: stop.args[0])
            try stop.emulate(returning: Int64(bytes.count))
            return .proceed
        }
        install("chdir") { [unowned self] stop, tracee, task in
            let arguments = PathSyscalls.table["chdir"]!
            let outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: arguments)
            if let remote = outcome.remoteArguments {
                return try emulateRemote("chdir", stop, task: task, remote)
            }
            _ = try apply(outcome, stop, tracee)
            guard let target = outcome.arguments.first?.resolution.virtualPath else { return .proceed }
            ThreadMemo.of(tracee).onExit = { [unowned self] result in
                guard result == 0 else { return nil }
                // Without mounts the resolver leaves symlinks to the kernel: ask it.
                task.fs.cwd = options.mounts.isTrivial ? kernelCwd(stop.tid) ?? target : target
                task.fs.remoteCwd = nil
                return nil
            }
            return .proceedToExit
        }
        install("fchdir") { [unowned self] stop, tracee, task in
            let fd = stop.int32(0)
            if DescriptorTable.isVirtual(fd) {
                guard let file = task.process.descriptors[fd]?.file else { try stop.fail(EBADF); return .proceed }
                guard file.isDirectory else { try stop.fail(ENOTDIR); return .proceed }
                // Opened under a name that may pass through links; detached, the name is no longer its.
                enterRemoteDirectory(task, file.isDetached ? file.location
                    : (try? physicalDirectory(file.location, under: task.fs.remoteCwd, service: file.service)) ?? file.location)
                try stop.emulate(returning: 0)
                return .proceed
            }
            ThreadMemo.of(tracee).onExit = { [unowned self] result in
                guard result == 0, let cwd = kernelCwd(stop.tid) else { return nil }
                task.fs.cwd = cwd
                task.fs.remoteCwd = nil
                return nil
            }
            return .proceedToExit
        }
        for name in ["readlink", "readlinkat"] {
            let arguments = PathSyscalls.table[name]!
            let bufferArg = name == "readlink" ? 1 : 2
            install(name) { [unowned self] stop, tracee, task in
                let outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: arguments)
                if let remote = outcome.remoteArguments {
                    return try emulateRemote(name, stop, task: task, remote)
                }
                if case .unchanged(let list) = outcome, let resolution = list.first?.resolution,
                   let content = procLink(resolution.virtualPath, tid: stop.tid, task: task) {
                    let bytes = Array(content.utf8.prefix(Int(min(stop.args[bufferArg + 1], 4096))))
                    try stop.memory.write(bytes, to: stop.args[bufferArg])
                    try stop.emulate(returning: Int64(bytes.count))
                    return .proceed
                }
                return try apply(outcome, stop, tracee)
            }
        }
    }

    /// The kernel's current directory of `tid`, in the program's view.
    func kernelCwd(_ tid: pid_t) -> String? {
        RealHostFileSystem().readLink(hostPath: "/proc/\(tid)/cwd").map { options.mounts.virtualPath(forHost: $0) }
    }

    /// The virtual descriptor's file that /proc/{self,thread-self,PID}/fd/N or
    /// /dev/fd/N names (the kernel's links lead to the open file itself):
    /// glibc's fchmodat(AT_SYMLINK_NOFOLLOW) opens O_PATH and chmods that.
    func procDescriptor(_ absolute: String, tid: pid_t) -> OpenFile? {
        guard absolute.hasPrefix("/proc/") || absolute.hasPrefix("/dev/fd/") else { return nil }
        let parts = absolute.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 2] == "fd", let fd = Int32(parts[parts.count - 1]),
              DescriptorTable.isVirtual(fd) else { return nil }
        let who = parts.count == 4 && parts[0] == "proc" ? parts[1] : parts.count == 3 && parts[0] == "dev" ? "self" : ""
        guard let owner = procOwner(who, tid: tid) else { return nil }
        return tasks[owner]?.process.descriptors[fd]?.file
    }

    /// The traced task /proc/WHO names: `self` and `thread-self` are the caller.
    private func procOwner(_ who: Substring, tid: pid_t) -> pid_t? {
        if who == "self" || who == "thread-self" { return tid }
        guard let pid = pid_t(who), tasks[pid] != nil else { return nil }
        return pid
    }

    /// The program's view of /proc/{self,thread-self,PID}[/task/TID]/{cwd,exe,fd/N}
    /// when PID is traced; nil leaves the link to the kernel.
    func procLink(_ virtualPath: String, tid: pid_t, task: TaskState) -> String? {
        // /dev/fd is the kernel's link to /proc/self/fd.
        if virtualPath.hasPrefix("/dev/fd/") { return procLink("/proc/self/fd/" + virtualPath.dropFirst(8), tid: tid, task: task) }
        var parts = virtualPath.split(separator: "/").dropFirst()  // after "proc"
        guard virtualPath.hasPrefix("/proc/"), let who = parts.popFirst() else { return nil }
        guard var owner = procOwner(who, tid: tid) else { return nil }
        if parts.first == "task" {
            // Only a thread of that same process.
            guard parts.count >= 2, let thread = pid_t(parts[parts.startIndex + 1]),
                  let threadTask = tasks[thread], threadTask.process === tasks[owner]?.process else { return nil }
            owner = thread
            parts = parts.dropFirst(2)
        }
        switch Array(parts) {
        case ["cwd"]: return tasks[owner].map { $0.fs.cwd }
        case ["exe"]: return tasks[owner]?.process.executable
        case let leaf where leaf.count == 2 && leaf[0] == "fd":
            // Open files show where they are in the program's view.
            if let fd = Int32(leaf[1]), DescriptorTable.isVirtual(fd) {
                return tasks[owner]?.process.descriptors[fd]?.file.location.virtualPath
            }
            guard let host = RealHostFileSystem().readLink(hostPath: "/proc/\(owner)/fd/\(leaf[1])"),
                  host.hasPrefix("/") else { return nil }
            if let cached = cachedNames[host] { return cached }
            let virtual = options.mounts.virtualPath(forHost: host)
            return virtual == host ? nil : virtual
        default: return nil
        }
    }
}
