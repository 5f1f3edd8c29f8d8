import ParrotFilter
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// Real descriptors must stay below the virtual ones: a hard RLIMIT_NOFILE
/// raised past VirtualDescriptor.base (only a privileged process can) is
/// refused with EPERM, as the kernel refuses one past fs.nr_open.
extension Agent {
    func installDescriptorLimitHandlers() {
        install("setrlimit") { [unowned self] stop, _, _ in try limitDescriptors(stop, resourceArg: 0, limitArg: 1) }
        install("prlimit64") { [unowned self] stop, _, _ in try limitDescriptors(stop, resourceArg: 1, limitArg: 2) }
    }

    private func limitDescriptors(_ stop: SyscallStop, resourceArg: Int, limitArg: Int) throws -> Resume {
        guard stop.int32(resourceArg) == Int32(RLIMIT_NOFILE.rawValue), stop.args[limitArg] != 0,
              let bytes = try? stop.memory.read(stop.args[limitArg], count: 16) else { return .proceed }
        let hard = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        guard hard > UInt64(VirtualDescriptor.base) else { return .proceed }
        if !reportedDescriptorLimit {
            reportedDescriptorLimit = true
            log.write("[\(stop.tid)] a descriptor limit of \(hard) refused (EPERM): the agent numbers its own from \(VirtualDescriptor.base)")
        }
        try stop.fail(EPERM)
        return .proceed
    }
}
