import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

extension Agent {
    /// Gives the program a real descriptor `fd` for a remote open file.
    func materialize(_ file: OpenFile, at fd: Int32, closeOnExec: Bool, _ stop: SyscallStop,
                     tracee: Tracee) throws -> Resume {
        try stop.fail(EBADF)
        return .proceed
    }
}
