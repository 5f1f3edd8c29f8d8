import Testing
@testable import ParrotFilter

@Suite struct PolicyTests {
    @Test func builtinPolicyParses() {
        let policy = Policy.builtin
        #expect(policy.rules.count > 350)
        #expect(policy.byName["getpid"]?.action == .allow)
        #expect(policy.byName["openat"]?.action == .trap)
        #expect(policy.byName["read"]?.action == .trapVirtualFD(args: [0]))
        #expect(policy.byName["newfstatat"]?.action == .trapUnlessEmptyPath(flagsArg: 3, fdArg: 0))
        #expect(policy.byName["io_uring_setup"]?.action == .errno(name: "ENOSYS", value: 38))
        #expect(policy.byName["clone3"]?.action == .errno(name: "ENOSYS", value: 38))
    }

    @Test func compiles() throws {
        let filter = try FilterCompiler.compile(.builtin)
        #expect(filter.instructionCount > 100)
        #expect(filter.instructionCount < 4096)  // the kernel's BPF_MAXINSNS
    }
}
