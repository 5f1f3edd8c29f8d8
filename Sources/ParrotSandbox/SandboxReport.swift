#if canImport(Glibc)
import Glibc
#endif

extension Sandbox {
    /// What holds on this kernel, one statement a line, printed at start-up.
    public var report: [String] {
        var lines: [String] = []
        var name = utsname()
        uname(&name)
        let release = withUnsafePointer(to: name.release) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
        let denied = "refused with EACCES and logged"
        switch landlock {
        case .success(let abi):
            lines.append("sandbox: Linux \(release), Landlock ABI \(abi): reads, writes, execs and file creation outside the policy are \(denied)")
            lines.append("sandbox: kernel-enforced (Landlock, on the object actually opened; no race): the file policy's allow-list"
                + (abi >= 2 ? ", links and renames that would widen access" : "")
                + ", ptrace and process_vm_* on processes outside the sandbox"
                + (abi >= 6 ? ", signals and abstract unix sockets to outside the sandbox" : "")
                + (network == .none && abi >= 4 ? ", TCP bind and connect (--deny-net)" : ""))
            if abi < 4 && network == .none {
                lines.append("sandbox: this kernel's Landlock has no network rules (ABI < 4): TCP bind and connect are checked by the tracer only")
            }
            if abi >= 7 { lines.append("sandbox: kernel denials are also recorded by the audit subsystem (when it is on)") }
        case .failure(let why):
            lines.append("sandbox: Linux \(release), no Landlock: \(why.reason)")
            lines.append("sandbox: every file decision is made by the tracer: a second thread of the program can change a path after it was checked")
        }
        lines.append("sandbox: seccomp filter (no race): ptrace, process_vm_writev, open_by_handle_at, clone(CLONE_UNTRACED), seccomp user-notification listeners and io_uring are refused; 32-bit and x32 calls are refused by the agent")
        var raced = ["ENOENT entries (the kernel answers EACCES)",
                     "hiding metadata (stat) of DENY trees" + (isPlain ? "; link targets (readlink) are not hidden" : ""),
                     "refusing setuid/setgid executables (no_new_privs already prevents any privilege gain)"]
        switch network {
        case .allow: lines.append("sandbox: network: unrestricted (--allow-net)")
        case .none: lines.append("sandbox: network: none; non-TCP IP sockets and TCP Fast Open are refused by their arguments (no race)")
        case .local: raced.append("the loopback-only network (--net local): addresses lie in the program's memory")
        }
        lines.append("sandbox: tracer-enforced (can be raced): " + raced.joined(separator: "; "))
        if case .success = landlock {
            for narrowing in plan.narrowings {
                lines.append("sandbox: stricter than the policy: \(narrowing)")
            }
        }
        return lines
    }
}
