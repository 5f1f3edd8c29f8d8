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
/// after), so the write-back runs there and its failure becomes close()'s result. Other last closes (dup2 onto
/// the number, exec, exit, a number past the cap) keep the inotify path.
extension Agent {
    /// Resumes an open rewritten to a copy being written so that its result
    /// comes back to `watchClose` (nil when this process cannot watch more).
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
        // Counted at once: a second thread's open of the same number must not stack another.
        filters.watchedCloses.insert(fd)
        let filter = StackedFilter.trapClose(of: fd, number: policy.byName["close"]!.number)
        return try stackingInjection(filter, sp: stop.stackPointer, memory: stop.memory, result: Int64(fd)) {
            [unowned self] installed in
            guard !installed else { return }
            filters.watchedCloses.remove(fd)
            filters.refused = true
            log.write("[\(stop.tid)] cannot stack a filter to watch close(\(fd)); write-back failures there are only logged")
        }
    }

    /// A trapped close of a watched number: when it names a copy being
    /// written, its exit stop settles the copy (closeOutcome).
    func handleWatchedClose(_ stop: SyscallStop, tracee: Tracee) -> Resume {
        let fd = stop.int32(0)
        guard let writeBack, !writeBack.isEmpty,
              let target = Self.linkTarget("/proc/\(stop.tid)/fd/\(fd)"),
              let key = writeBack.key(ofCopy: target) else { return .proceed }  // the number means another file now
        writeBack.awaitClose(of: key)
        ThreadMemo.of(tracee).onExit = { [unowned self] result in
            guard let failure = writeBack.closeOutcome(of: key), result == 0 else { return nil }
            let errno = Self.closeErrno(failure)
            if log.enabled(.namespace) { log.write("[\(stop.tid)] close(\(fd)) = -\(ErrnoName.name(of: errno)) (write-back failed)") }
            try? stop.setResult(-Int64(errno))
            return nil
        }
        return .proceedToExit
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
