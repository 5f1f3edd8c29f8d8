/// Tiny filters the agent adds to one process (and its future children) on
/// top of the base filter, to trap calls the base filter lets run: the close
/// of one descriptor, sendmsg. The kernel runs every filter of a process and
/// keeps the most restrictive action, so a stacked filter can only add traps;
/// it answers ALLOW for every other call whatever its arguments, so the
/// kernel's action cache still skips BPF for those.
public enum StackedFilter {
    /// What the kernel charges a filter beyond its instructions against its
    /// limit of 32768 per process (MAX_INSNS_PER_PATH).
    public static let overhead = 4

    /// Traps close(fd) (and the other `numbers` with fd first: dup2, dup3)
    /// with TrapReason.watchedClose.
    public static func trapClose(of fd: Int32, numbers: [Int]) -> CompiledFilter {
        build(numbers, firstArgument: UInt32(bitPattern: fd), reason: .watchedClose)
    }

    /// Traps every call with one of `numbers` (sendmsg, sendmmsg) with TrapReason.watchedSend.
    public static func trapSend(numbers: [Int]) -> CompiledFilter {
        build(numbers, firstArgument: nil, reason: .watchedSend)
    }

    static let auditArchX86_64: UInt32 = 0xC000_003E
    static let loadWord: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let jumpIfEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K
    static let allow: UInt32 = 0x7fff_0000

    /// arch == x86_64 && nr in numbers && (low word of args[0] == first) -> TRACE(reason), else ALLOW.
    /// Other ABIs are the base filter's business (i386's 3 is read).
    static func build(_ numbers: [Int], firstArgument: UInt32?, reason: TrapReason) -> CompiledFilter {
        var program: [(UInt16, UInt8, UInt8, UInt32)] = []
        // Jump offsets count from the next instruction; "allow" is the second-last one, "trace" the last.
        let afterNumbers = firstArgument == nil ? 0 : 2
        let length = 2 + 1 + numbers.count + afterNumbers + 2
        func toAllow(from index: Int) -> UInt8 { UInt8(length - 2 - index - 1) }
        func toTrace(from index: Int) -> UInt8 { UInt8(length - 1 - index - 1) }
        program.append((loadWord, 0, 0, 4))  // seccomp_data.arch
        program.append((jumpIfEqual, 0, toAllow(from: 1), auditArchX86_64))
        program.append((loadWord, 0, 0, 0))  // seccomp_data.nr
        for (offset, number) in numbers.enumerated() {
            let index = 3 + offset
            let matched = firstArgument == nil ? toTrace(from: index) : UInt8(numbers.count - offset - 1)
            let unmatched: UInt8 = offset == numbers.count - 1 ? toAllow(from: index) : 0
            program.append((jumpIfEqual, matched, unmatched, UInt32(number)))
        }
        if let firstArgument {
            program.append((loadWord, 0, 0, 16))  // low word of seccomp_data.args[0]
            let index = program.count
            program.append((jumpIfEqual, toTrace(from: index), toAllow(from: index), firstArgument))
        }
        program.append((returnConstant, 0, 0, allow))
        program.append((returnConstant, 0, 0, 0x7ff0_0000 | reason.rawValue))
        precondition(program.count == length)
        var bytes: [UInt8] = []
        for (code, jt, jf, k) in program {
            bytes += [UInt8(code & 0xff), UInt8(code >> 8), jt, jf]
            bytes += withUnsafeBytes(of: k.littleEndian) { Array($0) }
        }
        return CompiledFilter(bytes: bytes, listing: "")
    }
}
