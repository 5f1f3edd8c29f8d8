import ParrotFilter
import ParrotTracer

/// Text for the `-d syscall` log: name(arguments) and the result.
extension Agent {
    func describe(_ stop: SyscallStop) -> String {
        let name = SyscallNames.name(of: stop.number, policy: policy)
        let pathArgs = Set((PathSyscalls.table[name] ?? []).map(\.path))
        var parts: [String] = []
        for index in 0..<(Self.arity[name] ?? 6) {
            let value = stop.args[index]
            if pathArgs.contains(index), value != 0,
               let bytes = try? stop.memory.readCString(value) {
                parts.append("\"" + String(decoding: bytes, as: UTF8.self) + "\"")
            } else if Int32(truncatingIfNeeded: value) == Int32(Self.atFdcwd), value >> 32 == 0 || value >> 32 == 0xffff_ffff {
                parts.append("AT_FDCWD")
            } else if value < 0x10000 {
                parts.append(String(value))
            } else {
                parts.append("0x" + String(value, radix: 16))
            }
        }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    /// Argument counts of the trapped calls (the rest of the registers is noise).
    static let arity: [String: Int] = {
        let table = """
            open 3 openat 4 openat2 4 creat 2 stat 2 lstat 2 newfstatat 4 statx 5 access 2 faccessat 3
            faccessat2 4 readlink 3 readlinkat 4 execve 3 execveat 5 truncate 2 chdir 1 fchdir 1 chroot 1
            getcwd 2 rename 2 renameat 4 renameat2 5 mkdir 2 mkdirat 3 rmdir 1 link 2 linkat 5 unlink 1
            unlinkat 3 symlink 2 symlinkat 3 chmod 2 fchmodat 3 fchmodat2 4 chown 3 lchown 3 fchownat 5
            utime 2 utimes 2 futimesat 3 utimensat 4 mknod 3 mknodat 4 statfs 2 setxattr 5 lsetxattr 5
            getxattr 4 lgetxattr 4 listxattr 3 llistxattr 3 removexattr 2 lremovexattr 2 bind 3 connect 3
            sendto 6 clone 5 close_range 3 inotify_add_watch 3 mount 5 umount2 2
            """
        var result: [String: Int] = [:]
        let words = table.split(whereSeparator: { $0 == " " || $0 == "\n" })
        for index in stride(from: 0, to: words.count - 1, by: 2) { result[String(words[index])] = Int(words[index + 1]) }
        return result
    }()

    func describeResult(_ result: Int64) -> String {
        if result < 0 && result > -4096 { return "-1 \(ErrnoName.name(of: Int32(-result)))" }
        return result > 0xffff ? "0x" + String(result, radix: 16) : String(result)
    }
}
