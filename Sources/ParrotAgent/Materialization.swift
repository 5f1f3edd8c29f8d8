import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// A virtual descriptor that must become real (dup'ed into the native range,
/// mmap'ed) becomes a real descriptor on a local copy of the remote file,
/// opened in the program by injected calls; LocalCopies writes it back.
extension Agent {
    func materialize(_ file: OpenFile, at fd: Int32, closeOnExec: Bool, _ stop: SyscallStop,
                     tracee: Tracee) throws -> Resume {
        // Its close reports a failed write-back, like a cached copy's (WatchedCloses).
        let watch = closeWatch(at: fd, stop)
        return try inject(openingCopyOf: file, stop) { copyFd in
            // copy -> fd; the copy's own number is closed unless it is fd already.
            var calls: [(InjectedCall, [UInt64], Bool)] = copyFd == fd
                ? [(.fcntl, [UInt64(fd), UInt64(F_SETFD), closeOnExec ? UInt64(FD_CLOEXEC) : 0], fd == copyFd)]
                : [(.dup3, [UInt64(copyFd), UInt64(fd), closeOnExec ? UInt64(O_CLOEXEC) : 0], true),
                   (.close, [UInt64(copyFd)], false)]
            if let watch {
                calls.append((.seccomp, [Self.seccompSetModeFilter, Self.seccompFlagTsync | Self.seccompFlagSpecAllow,
                                         watch.program], false))
            }
            return calls
        } result: { results in
            if let watch, let last = results.last { watch.stacked(last) }
            return Int64(fd)
        }
    }

    /// mmap of a virtual descriptor maps the local copy.
    func mapCopy(_ file: OpenFile, _ stop: SyscallStop) throws -> Resume {
        let args = stop.args
        // Writes through a shared writable mapping raise no event, and the
        // mtime may not show them: such a mapping, once made, counts as written.
        let writable = args[2] & UInt64(PROT_WRITE) != 0 && args[3] & UInt64(MAP_SHARED) != 0 && file.accessMode == O_RDWR
        return try inject(openingCopyOf: file, stop) { copyFd in
            [(.mmap, [args[0], args[1], args[2], args[3], UInt64(copyFd), args[5]], true),
             (.close, [UInt64(copyFd)], false)]
        } result: { [unowned self] results in
            let mapped = results[0] >= 0 || results[0] < -4095
            if writable && mapped { copies?.mappedForWriting(file) }
            return results[0]
        }
    }

    enum InjectedCall { case openat, lseek, dup3, fcntl, close, mmap, seccomp }

    func number(_ call: InjectedCall) -> Int {
        let name = "\(call)"
        return policy.byName[name]!.number
    }

    /// Opens the local copy of `file` in the program (at its offset), then runs
    /// `then`'s calls with the copy's number; the stopped call returns what
    /// `result` makes of their results, or the first error. A call marked
    /// `true` must succeed; the others are cleanup.
    private func inject(openingCopyOf file: OpenFile, _ stop: SyscallStop,
                        then: @escaping (Int32) -> [(InjectedCall, [UInt64], Bool)],
                        result: @escaping ([Int64]) -> Int64) throws -> Resume {
        streamedCopies?.drop(file)  // the local copy made here takes over
        let copies = localCopies()
        let copy: LocalCopies.Copy
        do throws(ServiceError) { copy = try copies.copy(of: file) } catch {
            log.write("[\(stop.tid)] cannot make a local copy of \(file.location): \(error)")
            try stop.fail(error.errno)
            return .proceed
        }
        let pathBytes = Array(copy.path.utf8) + [0]
        var scratch = Scratch(below: stop.stackPointer, size: pathBytes.count)
        let pathAddress = scratch.place(pathBytes)
        try scratch.commit(to: stop.memory)

        let access = UInt64(file.isPathOnly ? O_RDONLY : file.accessMode)
        let openFlags = access | UInt64(file.flags & O_APPEND) | UInt64(O_CLOEXEC)
        var plan: [(InjectedCall, [UInt64], Bool)] = [
            (.openat, [UInt64(bitPattern: Int64(Self.atFdcwd)), pathAddress, openFlags, 0], true),
        ]
        var results: [Int64] = []
        var thenStart = 0
        var copyFd: Int32 = -1
        var failure: Int64?
        let injection = Injection { [unowned self] last in
            if let last {
                let (_, _, required) = plan[results.count]
                results.append(last)
                if results.count == 1 {
                    if last < 0 { copies.abandon(copy); return .finish(last) }
                    copies.opened(copy)
                    copyFd = Int32(last)
                    if file.offset > 0 && file.flags & O_APPEND == 0 {
                        plan.append((.lseek, [UInt64(copyFd), UInt64(file.offset), UInt64(SEEK_SET)], true))
                    }
                    thenStart = plan.count
                    plan += then(copyFd)
                } else if last < 0 && required && failure == nil {
                    failure = last
                    // Undo: close the copy's number, skip the rest.
                    plan = Array(plan[..<results.count]) + [(.close, [UInt64(copyFd)], false)]
                }
            }
            guard results.count < plan.count else {
                if let failure {
                    copies.abandon(copy)
                    return .finish(failure)
                }
                return .finish(result(Array(results[thenStart...])))
            }
            let (call, args, _) = plan[results.count]
            return .call(self.number(call), args)
        }
        if log.enabled(.namespace) { log.write("[\(stop.tid)] \(file.location) made real from \(copy.path)") }
        return .inject(injection)
    }
}
