import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The ids `-U` / `-G` make the program see; nil: the real one.
public struct FakeIdentity: Sendable, Equatable {
    public var uid: UInt32?
    public var gid: UInt32?
    public init(uid: UInt32? = nil, gid: UInt32? = nil) {
        self.uid = uid
        self.gid = gid
    }
    public var isEmpty: Bool { uid == nil && gid == nil }
}

/// getuid and friends answer with the fake ids (filters/identity.policy traps
/// them only when -U or -G is given). Nothing else changes: files the program
/// creates belong to the real user, and the kernel checks the real ids.
extension Agent {
    func installIdentityHandlers() {
        let identity = options.identity
        if let uid = identity.uid {
            for name in ["getuid", "geteuid"] { install(name) { stop, _, _ in try Self.answer(stop, uid) } }
            install("getresuid") { stop, _, _ in try Self.answerTriple(stop, uid) }
        }
        if let gid = identity.gid {
            for name in ["getgid", "getegid"] { install(name) { stop, _, _ in try Self.answer(stop, gid) } }
            install("getresgid") { stop, _, _ in try Self.answerTriple(stop, gid) }
        }
    }

    static func answer(_ stop: SyscallStop, _ id: UInt32) throws -> Resume {
        try stop.emulate(returning: Int64(id))
        return .proceed
    }

    /// getresuid(&r, &e, &s): all three are the fake id.
    static func answerTriple(_ stop: SyscallStop, _ id: UInt32) throws -> Resume {
        let bytes = withUnsafeBytes(of: id.littleEndian) { Array($0) }
        for index in 0..<3 {
            do { try stop.memory.write(bytes, to: stop.args[index]) } catch {
                try stop.fail(EFAULT)
                return .proceed
            }
        }
        try stop.emulate(returning: 0)
        return .proceed
    }
}
