import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// Names for syscall numbers, for messages.
public enum SyscallNames {
    static let auditArchI386: UInt32 = 0x4000_0003
    static let x32Bit = 0x4000_0000

    public static func name(of number: Int, policy: Policy) -> String {
        if let name = policy.name(of: number) { return name }
        return seccompName(arch: UInt32(SCMP_ARCH_NATIVE), number: number) ?? "syscall_\(number)"
    }

    /// "i386 (int 0x80)" or "x32".
    public static func abiName(arch: UInt32, number: Int) -> String {
        if arch == auditArchI386 { return "32-bit (int 0x80)" }
        if number & x32Bit != 0 { return "x32" }
        return "foreign-architecture (0x" + String(arch, radix: 16) + ")"
    }

    public static func foreignName(arch: UInt32, number: Int) -> String {
        if arch == auditArchI386 { return seccompName(arch: auditArchI386, number: number) ?? "syscall_\(number)" }
        if number & x32Bit != 0 {
            return seccompName(arch: 0xC000_003E, number: number & ~x32Bit).map { $0 } ?? "syscall_\(number)"
        }
        return "syscall_\(number)"
    }

    private static func seccompName(arch: UInt32, number: Int) -> String? {
        guard let cName = seccomp_syscall_resolve_num_arch(arch, Int32(truncatingIfNeeded: number)) else { return nil }
        defer { free(cName) }
        return String(cString: cName)
    }
}
