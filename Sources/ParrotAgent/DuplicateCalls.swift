import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// dup2 / dup3 where either side is virtual.
extension Agent {
    func duplicate(_ stop: SyscallStop, tracee: Tracee, task: TaskState, flags: Int32, isDup2: Bool) throws -> Resume {
        let old = stop.int32(0), new = stop.int32(1)
        let descriptors = task.process.descriptors
        func finish(_ result: Int64) throws -> Resume {
            try stop.emulate(returning: result)
            return .proceed
        }
        guard flags & ~O_CLOEXEC == 0 else { return try finish(-Int64(EINVAL)) }
        guard DescriptorTable.isVirtual(old) else {
            // A real descriptor cannot take a number the kernel never hands out.
            return try finish(-Int64(EBADF))
        }
        guard let file = descriptors[old]?.file else { return try finish(-Int64(EBADF)) }
        if old == new { return try finish(isDup2 ? Int64(new) : -Int64(EINVAL)) }
        if DescriptorTable.isVirtual(new) {
            if let there = descriptors[new]?.file { releaseRecordLocks(task.process, there) }
            if let replaced = descriptors.place(file, at: new, closeOnExec: flags & O_CLOEXEC != 0) {
                closeRemote(replaced)
            }
            return try finish(Int64(new))
        }
        guard new >= 0 else { return try finish(-Int64(EBADF)) }
        // `cmd > /chirp/...`: the program wants a real descriptor.
        return try materialize(file, at: new, closeOnExec: flags & O_CLOEXEC != 0, stop, tracee: tracee)
    }
}
