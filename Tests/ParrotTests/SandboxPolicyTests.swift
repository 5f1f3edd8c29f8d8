import Foundation
import Testing
@testable import ParrotAgent
@testable import ParrotFilter
import ParrotNamespace
import ParrotSandbox

@Suite struct SandboxPolicyTests {
    @Test func overlaysReplaceTheirSyscalls() throws {
        let policy = try Policy.builtin(with: ["sandbox", "net-none", "identity"])
        #expect(policy.byName["ptrace"]?.action == .errno(name: "EPERM", value: EPERM))
        #expect(policy.byName["clone"]?.action == .errnoIfSet(arg: 0, bit: 0x0080_0000, name: "EPERM", value: EPERM))
        #expect(policy.byName["socket"]?.action == .trap)
        #expect(policy.byName["getuid"]?.action == .trap)
        #expect(policy.byName["getpid"]?.action == .allow)
        #expect(policy.rules.count == Policy.builtin.rules.count)
        let filter = try FilterCompiler.compile(policy)
        #expect(filter.instructionCount < 4096)
    }

    @Test func readlinkIsTrappedOnlyWhenSomeEntryRedirects() {
        let plain = Sandbox(mounts: MountTable([MountEntry(prefix: "/home", target: .deny)]), network: .allow)
        #expect(plain.overlays == ["sandbox", "sandbox-plain"])
        let redirected = Sandbox(mounts: MountTable([MountEntry(prefix: "/data", target: .redirect("/tmp"))]),
                                 network: .none)
        #expect(redirected.overlays == ["sandbox", "net-none"])
    }

    @Test func anOverlayMustNameAClassifiedSyscall() throws {
        let wrong = try Policy.parse("getpid 40 allow\n", file: "x.policy")
        #expect(throws: PolicyError.self) { try Policy.builtin.overriding(with: wrong, file: "x.policy") }
        #expect(throws: PolicyError.self) { try Policy.builtin(with: ["no-such-overlay"]) }
    }

    @Test func embeddedOverlaysMatchTheirFiles() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Paths.repository + "/filters")
            .filter { $0.hasSuffix(".policy") && $0 != "syscalls.policy" }
        #expect(Set(names.map { String($0.dropLast(7)) }) == Set(embeddedOverlayTexts.keys), "run `make policy`")
        for name in names {
            let file = try String(contentsOfFile: Paths.repository + "/filters/" + name, encoding: .utf8)
            #expect(file.trimmingCharacters(in: .newlines)
                    == embeddedOverlayTexts[String(name.dropLast(7))]?.trimmingCharacters(in: .newlines),
                    "run `make policy` after editing filters/\(name)")
        }
    }

    @Test func networkRules() {
        func inet(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> SocketAddress {
            SocketAddress([UInt8(AF_INET), 0, 0, 80, a, b, c, d])
        }
        func inet6(_ bytes: [UInt8]) -> SocketAddress {
            SocketAddress([UInt8(AF_INET6), 0, 0, 80, 0, 0, 0, 0] + bytes + [0, 0, 0, 0])
        }
        let loop6 = [UInt8](repeating: 0, count: 15) + [1]
        let mapped = [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]
        let remote6 = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 12)
        #expect(NetworkRule.local.decide(inet(127, 0, 0, 1), use: .connect) == .allowed)
        #expect(NetworkRule.local.decide(inet(127, 1, 2, 3), use: .bind) == .allowed)
        #expect(NetworkRule.local.decide(inet(0, 0, 0, 0), use: .connect) == .allowed)
        #expect(NetworkRule.local.decide(inet(0, 0, 0, 0), use: .bind) != .allowed)
        #expect(NetworkRule.local.decide(inet(192, 0, 2, 1), use: .send) != .allowed)
        #expect(NetworkRule.local.decide(inet6(loop6), use: .connect) == .allowed)
        #expect(NetworkRule.local.decide(inet6(mapped), use: .connect) == .allowed)
        #expect(NetworkRule.local.decide(inet6(remote6), use: .connect) != .allowed)
        #expect(NetworkRule.none.decide(inet(127, 0, 0, 1), use: .connect) != .allowed)
        #expect(NetworkRule.none.decide(SocketAddress([UInt8(AF_UNIX), 0, 47]), use: .connect) == .allowed)
        #expect(NetworkRule.allow.decide(inet(192, 0, 2, 1), use: .connect) == .allowed)
    }
}
