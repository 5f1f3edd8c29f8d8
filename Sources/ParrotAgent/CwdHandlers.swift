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
            _ = try apply(outcome, stop, tracee)
            guard let target = outcome.arguments.first?.resolution.virtualPath else { return .proceed }
            ThreadMemo.of(tracee).onExit = { result in if result == 0 { task.fs.cwd = target } }
            return .proceedToExit
        }
        install("fchdir") { [unowned self] stop, tracee, task in
            ThreadMemo.of(tracee).onExit = { [unowned self] result in
                guard result == 0,
                      let host = RealHostFileSystem().readLink(hostPath: "/proc/\(stop.tid)/cwd") else { return }
                task.fs.cwd = options.mounts.virtualPath(forHost: host)
            }
            return .proceedToExit
        }
        for name in ["readlink", "readlinkat"] {
            let arguments = PathSyscalls.table[name]!
            let bufferArg = name == "readlink" ? 1 : 2
            install(name) { [unowned self] stop, tracee, task in
                let outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: arguments)
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

    /// The program's view of /proc/{self,thread-self,PID}/{cwd,exe}, when PID is traced.
    func procLink(_ virtualPath: String, tid: pid_t, task: TaskState) -> String? {
        let parts = virtualPath.split(separator: "/")
        guard parts.count == 3 || parts.count == 4, parts[0] == "proc" else { return nil }
        let owner: TaskState?
        let leaf: Substring
        if parts.count == 3 {
            leaf = parts[2]
            switch parts[1] {
            case "self", "thread-self": owner = task
            default: owner = pid_t(parts[1]).flatMap { tasks[$0] }
            }
        } else {
            // /proc/PID/task/TID/{cwd,exe}
            guard parts[2] == "task" || parts[1] == "self" else { return nil }
            leaf = parts[3]
            owner = pid_t(parts[2]).flatMap { tasks[$0] }
        }
        guard let owner else { return nil }
        switch leaf {
        case "cwd": return owner.fs.cwd
        case "exe": return owner.process.executable
        default: return nil
        }
    }
}
