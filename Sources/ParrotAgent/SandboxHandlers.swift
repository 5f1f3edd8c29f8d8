import ParrotFilter
import ParrotNamespace
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// What --sandbox adds to the namespace's handlers: executables with the
/// setuid or setgid bit are refused.
///
/// no_new_privs (set before the program starts) already keeps such a program
/// from gaining privileges; refusing it makes the attempt visible instead of
/// letting it run unprivileged and fail in its own way. The check looks at the
/// file before the kernel opens it, so a program that swaps the file in
/// between can get it run, still without privileges.
extension Agent {
    func installSandboxHandlers() {
        guard options.sandboxed else { return }
        for name in ["execve", "execveat"] {
            guard let number = policy.byName[name]?.number, let inner = handlers[number]?.run else { continue }
            install(name) { [unowned self] stop, tracee, task in
                let outcome = try resolvePaths(stop, tracee: tracee, task: task, arguments: PathSyscalls.table[name]!)
                if let program = outcome.arguments.first, Self.isSetID(program.resolution.hostPath) {
                    if log.enabled(.denied) {
                        log.write("[\(stop.tid)] \(name) \(program.resolution.virtualPath): setuid/setgid executable refused")
                    }
                    try stop.fail(EACCES)
                    return .proceed
                }
                return try inner(stop, tracee, task)
            }
        }
    }

    static func isSetID(_ hostPath: String) -> Bool {
        var st = stat()
        guard stat(hostPath, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return false }
        return st.st_mode & (S_ISUID | S_ISGID) != 0
    }
}
