import CParrotShim
#if canImport(Glibc)
import Glibc
#endif

/// ptrace requests, options and events (the C enums do not import into Swift).
enum Ptrace {
    static let cont: Int32 = 7
    static let syscall: Int32 = 24
    static let getEventMsg: Int32 = 0x4201
    static let seize: Int32 = 0x4206
    static let listen: Int32 = 0x4208

    static let optSysGood: UInt = 0x1
    static let optFork: UInt = 0x2
    static let optVfork: UInt = 0x4
    static let optClone: UInt = 0x8
    static let optExec: UInt = 0x10
    static let optSeccomp: UInt = 0x80
    static let optExitKill: UInt = 0x10_0000

    static let eventFork: Int32 = 1
    static let eventVfork: Int32 = 2
    static let eventClone: Int32 = 3
    static let eventExec: Int32 = 4
    static let eventSeccomp: Int32 = 7
    static let eventStop: Int32 = 128

    static let infoExit: UInt8 = 2
    static let infoSeccomp: UInt8 = 3

    static func resume(_ request: Int32, _ pid: pid_t, signal: Int32 = 0) {
        // ESRCH: the task died meanwhile (e.g. SIGKILL); its exit is reported next.
        _ = parrot_ptrace(request, pid, 0, UInt(signal))
    }

    static func eventMessage(_ pid: pid_t) -> UInt {
        var message: UInt = 0
        _ = withUnsafeMutablePointer(to: &message) {
            parrot_ptrace(getEventMsg, pid, 0, UInt(bitPattern: $0))
        }
        return message
    }
}
