import Testing
@testable import ParrotFilter

@Suite struct PolicyTests {
    @Test func builtinPolicyParses() {
        let policy = Policy.builtin
        #expect(policy.rules.count > 350)
        #expect(policy.byName["getpid"]?.action == .allow)
        #expect(policy.byName["openat"]?.action == .trap)
        #expect(policy.byName["read"]?.action == .answerVirtualFD(args: [0]))
        #expect(policy.byName["mmap"]?.action == .trapVirtualFD(args: [4]))
        #expect(policy.byName["newfstatat"]?.action == .trapUnlessEmptyPath(flagsArg: 3, fdArg: 0))
        #expect(policy.byName["io_uring_setup"]?.action == .errno(name: "ENOSYS", value: 38))
        #expect(policy.byName["clone3"]?.action == .errno(name: "ENOSYS", value: 38))
    }

    /// With every trap turned to allow and no tracer, only an unclassified
    /// call could fail (ENOSYS): the loader's mmap passes its -1 zero-extended,
    /// python's calls pass descriptors as C does, and none of them is one.
    @Test func descriptorsAreJudgedByTheirLow32Bits() {
        let result = Command.run([Paths.parrot, "filter", "--allow-all", "--", "python3", "-c",
                                  "import mmap, os; m = mmap.mmap(-1, 1 << 20); print(len(m), os.read(os.open('/etc/hostname', 0), 0))"])
        #expect(result.status == 0 && result.stdout == "1048576 b''\n", "\(result)")
    }

    @Test func compiles() throws {
        let filter = try FilterCompiler.compile(.builtin)
        #expect(filter.instructionCount > 100)
        #expect(filter.instructionCount < 4096)  // the kernel's BPF_MAXINSNS
    }

    /// answer-vfd returns SECCOMP_RET_USER_NOTIF only when answering, and the
    /// same program shape traps otherwise.
    @Test func answeredCallsNotifyOnlyWhenAsked() throws {
        func returns(_ filter: CompiledFilter) -> Set<UInt32> {
            Set(stride(from: 0, to: filter.bytes.count, by: 8).compactMap { at -> UInt32? in
                let code = UInt16(filter.bytes[at]) | UInt16(filter.bytes[at + 1]) << 8
                guard code == 0x06 else { return nil }  // BPF_RET | BPF_K
                return (0..<4).reduce(UInt32(0)) { $0 | UInt32(filter.bytes[at + 4 + $1]) << (8 * UInt32($1)) }
            })
        }
        let notify: UInt32 = 0x7fc0_0000
        #expect(returns(try FilterCompiler.compile(.builtin, answering: true)).contains(notify))
        #expect(!returns(try FilterCompiler.compile(.builtin)).contains(notify))
    }
}
