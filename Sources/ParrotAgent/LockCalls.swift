import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// flock and fcntl record locks on virtual descriptors, held on shadow
/// files (see ShadowLocks). A lock that must wait makes the program sleep
/// (an injected nanosleep, 2 ms) and is tried again. A signal ends the wait
/// as it ends the kernel's: the call returns ERESTARTSYS with the signal
/// sent again, so a handler without SA_RESTART sees EINTR and any other
/// signal (SA_RESTART, stop and continue, ignored) restarts the call.
extension Agent {
    /// fcntl's open-file-description lock commands (Linux values; Swift's Glibc module hides their names).
    static let (ofdGetLock, ofdSetLock, ofdSetLockWait): (Int32, Int32, Int32) = (36, 37, 38)
    static let lockCommands: Set<Int32> = [F_GETLK, F_SETLK, F_SETLKW, ofdGetLock, ofdSetLock, ofdSetLockWait]

    /// F_OFD_SETLK of `lock` (a struct flock) on `owner`: 0 or -errno.
    private static func setLock(_ owner: Int32, _ lock: inout [UInt8]) -> Int64 {
        lock.withUnsafeMutableBytes { fcntl(owner, ofdSetLock, $0.baseAddress!) } == 0 ? 0 : -Int64(errno)
    }

    func installLockCalls() {
        install("flock") { [unowned self] stop, _, task in
            let operation = stop.int32(1)
            guard let file = task.process.descriptors[stop.int32(0)]?.file, !file.isPathOnly else {
                try stop.fail(EBADF)
                return .proceed
            }
            let type: Int32
            switch operation & ~LOCK_NB {
            case LOCK_SH: type = F_RDLCK
            case LOCK_EX: type = F_WRLCK
            case LOCK_UN: type = F_UNLCK
            default: try stop.fail(EINVAL); return .proceed
            }
            let owner: Int32
            do throws(ServiceError) { owner = try locks().descriptionOwner(file, flock: true) } catch {
                try stop.fail(error.errno)
                return .proceed
            }
            // A whole-file OFD lock is what flock is: one per open file description.
            var lock = [UInt8](repeating: 0, count: 32)
            lock.store(Int16(type), at: 0)
            return try attempt(stop, blocking: operation & LOCK_NB == 0 && type != F_UNLCK) {
                let result = Self.setLock(owner, &lock)
                return result == -Int64(EAGAIN) ? -Int64(EWOULDBLOCK) : result
            }
        }
        guard let number = policy.byName["fcntl"]?.number, let others = handlers[number]?.run else { return }
        install("fcntl") { [unowned self] stop, tracee, task in
            guard Self.lockCommands.contains(stop.int32(1)) else { return try others(stop, tracee, task) }
            return try recordLock(stop, task: task)
        }
    }

    /// Any close of a file (close, dup2 over it, close_range, exec) drops
    /// the process's record locks on it; an O_PATH descriptor's does not.
    func releaseRecordLocks(_ process: ProcessState, _ file: OpenFile) {
        if !file.isPathOnly { shadowLocks?.processClosed(process, file) }
    }

    func locks() -> ShadowLocks {
        if let shadowLocks { return shadowLocks }
        let made = ShadowLocks(directory: options.temporaryDirectory + "/locks")
        shadowLocks = made
        return made
    }

    /// fcntl F_GETLK, F_SETLK, F_SETLKW and their OFD forms (struct flock:
    /// type and whence as shorts, start at 8, length at 16, pid at 24).
    private func recordLock(_ stop: SyscallStop, task: TaskState) throws -> Resume {
        let command = stop.int32(1)
        let ofd = command >= Self.ofdGetLock
        let asks = command == F_GETLK || command == Self.ofdGetLock
        func refuse(_ errno: Int32) throws -> Resume { try stop.fail(errno); return .proceed }
        guard let file = task.process.descriptors[stop.int32(0)]?.file, !file.isPathOnly else { return try refuse(EBADF) }
        guard var lock = try? stop.memory.read(stop.args[2], count: 32) else { return try refuse(EFAULT) }
        let type = lock.load(Int16.self, at: 0), whence = lock.load(Int16.self, at: 2)
        if ofd && lock.load(Int32.self, at: 24) != 0 { return try refuse(EINVAL) }
        // The kernel asks for a descriptor that can read (write) for a read (write) lock.
        if !asks {
            if type == Int16(F_RDLCK) && !file.isReadable || type == Int16(F_WRLCK) && !file.isWritable { return try refuse(EBADF) }
        }
        // The shadow file is empty and at offset 0: starts become absolute.
        var start = lock.load(Int64.self, at: 8)
        switch Int32(whence) {
        case SEEK_SET: break
        case SEEK_CUR: start += file.offset
        case SEEK_END:
            do throws(ServiceError) { start += try size(of: file) } catch { return try refuse(error.errno) }
        default: return try refuse(EINVAL)
        }
        lock.store(Int16(SEEK_SET), at: 2)
        lock.store(start, at: 8)
        lock.store(Int32(0), at: 24)
        let owner: Int32
        do throws(ServiceError) {
            owner = try ofd ? locks().descriptionOwner(file) : locks().processOwner(task.process, file)
        } catch { return try refuse(error.errno) }
        if asks {
            let result = lock.withUnsafeMutableBytes { fcntl(owner, Self.ofdGetLock, $0.baseAddress!) }
            guard result == 0 else { return try refuse(errno) }
            try stop.memory.write(lock, to: stop.args[2])
            try stop.emulate(returning: 0)
            return .proceed
        }
        return try attempt(stop, blocking: command == F_SETLKW || command == Self.ofdSetLockWait) {
            Self.setLock(owner, &lock)
        }
    }

    /// Runs `attempt` (0 or -errno); one that may wait and would block sleeps
    /// in the program and is tried again.
    private func attempt(_ stop: SyscallStop, blocking: Bool, _ attempt: @escaping () -> Int64) throws -> Resume {
        let first = attempt()
        guard blocking, first == -Int64(EAGAIN) || first == -Int64(EACCES) else {
            try stop.emulate(returning: first)
            return .proceed
        }
        var scratch = Scratch(below: stop.stackPointer, size: 16)
        let pause = scratch.place(withUnsafeBytes(of: (Int64(0), Int64(2_000_000))) { Array($0) }, alignment: 8)
        try scratch.commit(to: stop.memory)
        guard let sleep = policy.byName["nanosleep"]?.number else {
            try stop.fail(ENOLCK)
            return .proceed
        }
        final class Holder { weak var injection: Injection? }
        let holder = Holder()
        let injection = Injection { last in
            if last != nil {
                if holder.injection?.holdsSignals == true { return .finish(-512) }  // ERESTARTSYS
                let result = attempt()
                if result != -Int64(EAGAIN) && result != -Int64(EACCES) { return .finish(result) }
            }
            return .call(sleep, [pause, 0])
        }
        holder.injection = injection
        return .inject(injection)
    }
}
