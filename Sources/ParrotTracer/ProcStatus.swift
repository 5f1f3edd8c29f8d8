#if canImport(Glibc)
import Glibc
#endif

/// A task's /proc/TID/status, for the fields the kernel tells nowhere else
/// without stopping the task (its umask, who made it).
public struct ProcStatus {
    private let text: String

    /// nil when the task is gone (or the file unreadable).
    public init?(tid: pid_t) {
        let fd = open("/proc/\(tid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        text = String(decoding: bytes[..<count], as: UTF8.self)
    }

    /// The value of the line `name:`, blanks around it dropped.
    public subscript(name: String) -> Substring? {
        let prefix = name + ":"
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return line.dropFirst(prefix.count).drop { $0 == " " || $0 == "\t" }
    }
}
