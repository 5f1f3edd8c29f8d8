import ParrotFilter
import ParrotTracer

/// Text for the `-d syscall` log: name(arguments) and the result.
extension Agent {
    func describe(_ stop: SyscallStop) -> String {
        let name = SyscallNames.name(of: stop.number, policy: policy)
        let pathArgs = Set((PathSyscalls.table[name] ?? []).map(\.path))
        let count = policy.byName[name].map { _ in 6 } ?? 6
        var parts: [String] = []
        for index in 0..<count {
            let value = stop.args[index]
            if pathArgs.contains(index), value != 0,
               let bytes = try? stop.memory.readCString(value) {
                parts.append("\"" + String(decoding: bytes, as: UTF8.self) + "\"")
            } else if Int64(bitPattern: value) == Self.atFdcwd {
                parts.append("AT_FDCWD")
            } else if value < 0x10000 {
                parts.append(String(value))
            } else {
                parts.append("0x" + String(value, radix: 16))
            }
        }
        while parts.count > 1, parts.last == "0" { parts.removeLast() }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    func describeResult(_ result: Int64) -> String {
        if result < 0 && result > -4096 { return "-1 \(ErrnoName.name(of: Int32(-result)))" }
        return result > 0xffff ? "0x" + String(result, radix: 16) : String(result)
    }
}
