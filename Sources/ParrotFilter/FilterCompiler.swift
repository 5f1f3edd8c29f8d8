import CParrotShim
import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// A compiled seccomp-BPF program: raw `struct sock_filter` instructions.
public struct CompiledFilter: Sendable {
    public let bytes: [UInt8]
    /// Human-readable form (libseccomp's pseudo filter code), when asked for:
    /// exporting it costs as much as the program itself, at every start.
    public let listing: String?
    public var instructionCount: Int { bytes.count / 8 }

    /// This program with every `return from` made `return to`.
    func replacingReturns(_ from: UInt32, with to: UInt32, listed: String) -> CompiledFilter {
        var bytes = self.bytes
        for at in stride(from: 0, to: bytes.count - 7, by: 8) {
            let code = UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
            let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + 4 + $1]) << (8 * UInt32($1)) }
            guard code == 0x06, value == from else { continue }  // BPF_RET | BPF_K
            for index in 0..<4 { bytes[at + 4 + index] = UInt8(truncatingIfNeeded: to >> (8 * UInt32(index))) }
        }
        let marked = "TRACE(\(TrapReason.answered.rawValue))"
        return CompiledFilter(bytes: bytes, listing: listing?.replacing(marked, with: listed))
    }

    func trapping() -> CompiledFilter {
        replacingReturns(FilterCompiler.actTrace(.answered), with: FilterCompiler.actTrace(.classified),
                         listed: "TRACE(\(TrapReason.classified.rawValue))")
    }

    func answering() -> CompiledFilter {
        replacingReturns(FilterCompiler.actTrace(.answered), with: FilterCompiler.actNotify, listed: "NOTIFY")
    }
}

public struct FilterCompileError: Error, CustomStringConvertible {
    public let description: String
}

/// Turns a Policy into BPF with libseccomp.
public enum FilterCompiler {
    // libseccomp's action macros are function-like and do not import into Swift.
    static let actAllow: UInt32 = 0x7fff_0000
    static func actTrace(_ data: TrapReason) -> UInt32 { 0x7ff0_0000 | (data.rawValue & 0xffff) }
    static func actErrno(_ value: Int32) -> UInt32 { 0x0005_0000 | (UInt32(value) & 0xffff) }
    static let actNotify: UInt32 = 0x7fc0_0000  // SECCOMP_RET_USER_NOTIF

    /// - Parameter allowAll: every trap becomes allow (the benchmark's floor for
    ///   untrapped calls: same program shape, no tracer needed).
    /// - Parameter answering: `answer-vfd` calls go to the user-notification
    ///   listener; otherwise they trap like `trap-vfd`.
    public static func compile(_ policy: Policy, allowAll: Bool = false, answering: Bool = false,
                               withListing: Bool = false) throws -> CompiledFilter {
        let program = try compileMarked(policy, allowAll: allowAll, withListing: withListing)
        return answering ? program.answering() : program.trapping()
    }

    /// The program twice from one compilation: answered calls trapped, and
    /// answered calls notified (what `parrot run` hands its child).
    public static func compileTrappingAndAnswering(_ policy: Policy) throws -> (trapping: CompiledFilter, answering: CompiledFilter) {
        let program = try compileMarked(policy, allowAll: false, withListing: false)
        return (program.trapping(), program.answering())
    }

    /// answer-vfd returns carry TrapReason.answered until one of the above
    /// rewrites them: libseccomp itself would refuse a notify action wherever
    /// the kernel does not offer one (or seccomp() is denied), and the
    /// trapping program must build there all the same.
    private static func compileMarked(_ policy: Policy, allowAll: Bool, withListing: Bool) throws -> CompiledFilter {
        guard let ctx = seccomp_init(actTrace(.unclassified)) else {
            throw FilterCompileError(description: "seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, actTrace(.foreignABI)), "set bad-arch action")
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "clear NNP attribute")
        // A binary tree over syscall numbers: few comparisons per call.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        let trap = allowAll ? actAllow : actTrace(.classified)
        let answer = allowAll ? actAllow : actTrace(.answered)
        for rule in policy.rules {
            for (action, conditions) in branches(of: rule.action, trap: trap, answer: answer) {
                let rc = conditions.withUnsafeBufferPointer {
                    seccomp_rule_add_array(ctx, action, Int32(rule.number), UInt32($0.count), $0.baseAddress)
                }
                try check(rc, "add rule for \(rule.name) (\(rule.number))")
            }
        }
        return CompiledFilter(bytes: try export(ctx, seccomp_export_bpf),
                              listing: withListing ? String(decoding: try export(ctx, seccomp_export_pfc), as: UTF8.self) : nil)
    }

    /// The (action, conditions) pairs that together cover every call of a syscall.
    static func branches(of action: PolicyAction, trap: UInt32, answer: UInt32) -> [(UInt32, [scmp_arg_cmp])] {
        func masked(_ arg: Int, _ mask: UInt64, _ value: UInt64) -> scmp_arg_cmp {
            scmp_arg_cmp(arg: UInt32(arg), op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: value)
        }
        func virtual(_ arg: Int) -> scmp_arg_cmp { masked(arg, VirtualDescriptor.mask, VirtualDescriptor.tag) }
        // Below the virtual numbers, or negative. Anything else (an int whose
        // upper half holds garbage) stops unclassified, and the agent looks at
        // the low half as the kernel does.
        func native(_ arg: Int) -> [scmp_arg_cmp] {
            [masked(arg, VirtualDescriptor.mask, 0), masked(arg, VirtualDescriptor.negative, VirtualDescriptor.negative)]
        }
        // Every combination of native ranges across the given args, one rule each.
        func allNative(_ args: [Int], plus extra: [scmp_arg_cmp] = []) -> [(UInt32, [scmp_arg_cmp])] {
            var combos: [[scmp_arg_cmp]] = [extra]
            for arg in args { combos = combos.flatMap { prefix in native(arg).map { prefix + [$0] } } }
            return combos.map { (actAllow, $0) }
        }
        switch action {
        case .allow: return [(actAllow, [])]
        case .trap: return [(trap, [])]
        case .errno(_, let value): return [(actErrno(value), [])]
        case .trapVirtualFD(let args):
            return args.map { (trap, [virtual($0)]) } + allNative(args)
        case .answerVirtualFD(let args):
            return args.map { (answer, [virtual($0)]) } + allNative(args)
        case .trapUnlessEmptyPath(let flagsArg, let fdArg):
            let emptyPath: UInt64 = 0x1000  // AT_EMPTY_PATH
            return [(trap, [masked(flagsArg, emptyPath, 0)]),
                    (trap, [masked(flagsArg, emptyPath, emptyPath), virtual(fdArg)])]
                + allNative([fdArg], plus: [masked(flagsArg, emptyPath, emptyPath)])
        case .trapIfSet(let arg, let bit):
            return [(trap, [masked(arg, bit, bit)]), (actAllow, [masked(arg, bit, 0)])]
        case .errnoIfSet(let arg, let bit, _, let value):
            return [(actErrno(value), [masked(arg, bit, bit)]), (actAllow, [masked(arg, bit, 0)])]
        case .trapIfNonzero(let arg):
            return [(trap, [scmp_arg_cmp(arg: UInt32(arg), op: SCMP_CMP_NE, datum_a: 0, datum_b: 0)]),
                    (actAllow, [scmp_arg_cmp(arg: UInt32(arg), op: SCMP_CMP_EQ, datum_a: 0, datum_b: 0)])]
        }
    }

    private static func check(_ rc: Int32, _ what: String) throws {
        if rc < 0 {
            throw FilterCompileError(description: "libseccomp: \(what): \(ErrnoName.name(of: -rc))")
        }
    }

    private static func export(_ ctx: scmp_filter_ctx,
                               _ exporter: (scmp_filter_ctx, Int32) -> Int32) throws -> [UInt8] {
        let fd = parrot_memfd("parrot-filter")
        guard fd >= 0 else { throw FilterCompileError(description: "memfd_create: \(ErrnoName.name(of: -fd))") }
        defer { close(fd) }
        try check(exporter(ctx, fd), "export")
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        lseek(fd, 0, SEEK_SET)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }
}
