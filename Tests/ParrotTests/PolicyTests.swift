import Testing
@testable import ParrotFilter

@Suite struct PolicyTests {
    @Test func builtinPolicyParses() {
        #expect(Policy.builtin.rules.count > 350)
    }
}
