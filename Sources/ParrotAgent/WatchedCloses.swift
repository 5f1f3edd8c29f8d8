import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// close() of a descriptor on a cached copy being written reports a failed
/// write-back, as a local filesystem reports a failed flush: the open's exit
/// stop learns the descriptor's number and stacks a filter trapping its close
/// in that process (StackedFilters); at that close's exit stop the kernel has
/// queued IN_CLOSE_WRITE if it was the last one (current kernels, 6.18 here,
/// drop the last reference inside close(); where that waits for the return
/// to user space the close says nothing and the inotify path writes back just
/// after), so the write-back runs there and its failure becomes close()'s
/// result. The filter also traps dup2 and dup3 from the number, so that the
/// number a copy is moved to is watched too (a shell's `cmd > /chirp/f` puts
/// it on 1, which coreutils close at exit, reporting a failure). Other last
/// closes (dup2 onto the number, exec, exit, a number past the cap) keep the
/// inotify path.
extension Agent {
    /// Resumes an open rewritten to a copy being written (or a dup2 or dup3
    /// of one) so that the descriptor it returns comes back to `watchClose`
    /// (nil when this process cannot watch more).
    func watchingClose(_ stop: SyscallStop, tracee: Tracee) -> Resume? {
        let process = task(tracee.tid).process
        guard stackedFilters(of: process).canWatchMoreCloses else { return nil }
        ThreadMemo.of(tracee).onExit = { [unowned self] fd in
            try? watchClose(of: Int32(truncatingIfNeeded: fd), in: process, stop)
        }
        return .proceedToExit
    }

    /// At the open's exit stop: stacks the close filter for `fd` unless one is there.
    private func watchClose(of fd: Int32, in process: ProcessState, _ stop: SyscallStop) throws -> Injection? {
        let filters = stackedFilters(of: process)
        guard fd >= 0, !filters.watchedCloses.contains(fd), filters.canWatchMoreCloses else { return nil }
        let injection = try stackingInjection(closeFilter(fd), sp: stop.stackPointer, memory: stop.memory,
                                              result: Int64(fd)) { [unowned self] installed in
            closeWatchStacked(installed, fd, filters, stop)
        }
        // Counted at once: a second thread's open of the same number must not stack another.
        filters.watchedCloses.insert(fd)
        return injection
    }

    private func closeFilter(_ fd: Int32) -> CompiledFilter {
        StackedFilter.trapClose(of: fd, numbers: ["close", "dup2", "dup3"].map { policy.byName[$0]!.number })
    }

    private func closeWatchStacked(_ installed: Bool, _ fd: Int32, _ filters: StackedFilters, _ stop: SyscallStop) {
        guard !installed else {
            filters.watchedCloses.insert(fd)
            return
        }
        filters.watchedCloses.remove(fd)
        filters.refused = true
        log.write("[\(stop.tid)] cannot stack a filter to watch close(\(fd)); write-back failures there are only logged")
    }

    /// A virtual descriptor materialized at `fd` (`cmd > /chirp/f` with
    /// --no-cache): the close filter for `fd`, placed well below what the
    /// materialization writes under the stack (a path), and what to make of
    /// the injected seccomp's result; nil when `fd` is watched or cannot be.
    func closeWatch(at fd: Int32, _ stop: SyscallStop) -> (program: UInt64, stacked: (Int64) -> Void)? {
        let filters = stackedFilters(of: task(stop.tid).process)
        guard fd >= 0, !filters.watchedCloses.contains(fd), filters.canWatchMoreCloses,
              let program = try? place(closeFilter(fd), below: stop.stackPointer - UInt64(PATH_MAX) - 256, stop.memory)
        else { return nil }
        return (program, { [unowned self] result in closeWatchStacked(result == 0, fd, filters, stop) })
    }

    /// A trapped close, dup2 or dup3 of a watched number. A close that names
    /// a copy being written settles it at its exit stop (closeOutcome).
    func handleWatchedDescriptor(_ stop: SyscallStop, tracee: Tracee) throws -> Resume {
        let fd = stop.int32(0)
        let isClose = stop.number == policy.byName["close"]!.number
        // dup2 onto a virtual number is the base policy's trap too (the newest filter's reason wins).
        if !isClose && DescriptorTable.isVirtual(stop.int32(1)) {
            return try handlers[stop.number]?.run(stop, tracee, task(stop.tid)) ?? .proceed
        }
        guard let outcome = awaitingClose(of: fd, stop, counting: isClose) else { return .proceed }  // the number means another file now
        guard isClose else { return watchingClose(stop, tracee: tracee) ?? .proceed }
        ThreadMemo.of(tracee).onExit = { [unowned self] result in
            guard let failure = outcome(), result == 0 else { return nil }
            let errno = Self.closeErrno(failure)
            if log.enabled(.namespace) { log.write("[\(stop.tid)] close(\(fd)) = -\(ErrnoName.name(of: errno)) (write-back failed)") }
            try? stop.setResult(-Int64(errno))
            return nil
        }
        return .proceedToExit
    }

    /// When `fd` is a copy being written (cached or materialized): counts a
    /// close under way (`counting`) and returns how to learn, after it,
    /// whether it failed to go back.
    private func awaitingClose(of fd: Int32, _ stop: SyscallStop, counting: Bool) -> (() -> ServiceError?)? {
        let busy = writeBack?.isEmpty == false || copies?.isEmpty == false
        guard busy, let target = Self.linkTarget("/proc/\(stop.tid)/fd/\(fd)") else { return nil }
        if let writeBack, let key = writeBack.key(ofCopy: target) {
            if counting { writeBack.awaitClose(of: key) }
            return { writeBack.closeOutcome(of: key) }
        }
        if let copies, copies.holds(target) {
            if counting { copies.awaitClose(of: target) }
            return { copies.closeOutcome(of: target) }
        }
        return nil
    }

    /// What close() says when the data could not go back: what a local (or
    /// network) filesystem says when it cannot flush; a server that went away
    /// is an I/O error, not a connection error close() never returns.
    static func closeErrno(_ error: ServiceError) -> Int32 {
        switch error.errno {
        case EACCES, EPERM, ENOSPC, EDQUOT, EFBIG, EROFS, ESTALE: return error.errno
        case ENOENT, ENOTDIR: return ESTALE  // removed on the server meanwhile, as NFS says
        default: return EIO
        }
    }

    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
