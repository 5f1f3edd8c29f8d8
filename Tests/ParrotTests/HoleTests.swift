import Foundation
import Testing
@testable import ParrotFilter

/// Every syscall of the running kernel is classified, and what is not
/// classified (or comes through another ABI) never passes silently.
@Suite struct HoleTests {
    /// Names of the kernel's syscall entry points (__x64_sys_NAME in kallsyms).
    static func kernelEntryPoints() -> Set<String> {
        // /proc files report size 0: read them as a stream.
        guard let handle = FileHandle(forReadingAtPath: "/proc/kallsyms"),
              let data = try? handle.readToEnd() else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        var names: Set<String> = []
        for line in text.split(separator: "\n") {
            guard let range = line.range(of: " __x64_sys_") else { continue }
            let name = line[range.upperBound...].prefix { $0 != " " && $0 != "\t" && $0 != "." }
            names.insert(String(name))
        }
        return names
    }

    @Test func everyKernelSyscallIsClassified() throws {
        let policy = Policy.builtin
        let kernel = Self.kernelEntryPoints()
        try #require(kernel.count > 300, "cannot read the kernel's syscall entry points from /proc/kallsyms")
        let unclassified = kernel.filter { name in
            policy.byName[name] == nil && policy.byName[policy.aliases[name] ?? ""] == nil
                && !policy.foreign.contains(name)
        }
        #expect(unclassified.isEmpty, "the kernel has syscalls the policy does not classify: \(unclassified.sorted())")
    }

    @Test func policyNumbersMatchTheSystemHeaders() throws {
        let header = try String(contentsOfFile: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", encoding: .utf8)
        let policy = Policy.builtin
        var checked = 0
        for line in header.split(separator: "\n") where line.hasPrefix("#define __NR_") {
            let parts = line.dropFirst("#define __NR_".count).split(separator: " ")
            guard parts.count == 2, let number = Int(parts[1]) else { continue }
            let rule = policy.byNumber[number]
            #expect(rule?.name == String(parts[0]), "number \(number) is \(parts[0]) in the headers, \(rule?.name ?? "unclassified") in the policy")
            checked += 1
        }
        #expect(checked > 300)
    }

    @Test func embeddedPolicyMatchesTheFile() throws {
        let file = try String(contentsOfFile: Paths.repository + "/filters/syscalls.policy", encoding: .utf8)
        #expect(file.trimmingCharacters(in: .newlines) == embeddedPolicyText.trimmingCharacters(in: .newlines),
                "run `make policy` after editing filters/syscalls.policy")
    }

    @Test func foreignAbisUnknownNumbersAndEscapesAreRefused() {
        let result = Command.run([Paths.parrot, "run", "--", Fixture.binary("holes")])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == """
            x32 getpid: ENOSYS
            int 0x80 getpid: ENOSYS
            io_uring_setup: ENOSYS
            clone3: ENOSYS
            syscall 1000: ENOSYS
            untraced child traced: yes
            done

            """)
        #expect(result.stderr.contains("x32 call (getpid"))
        #expect(result.stderr.contains("32-bit (int 0x80) call (getpid"))
        #expect(result.stderr.contains("unclassified syscall syscall_1000 (1000)"))
    }

    @Test func unknownSyscallCanStopTheProgram() {
        let result = Command.run([Paths.parrot, "run", "--on-unknown", "kill", "--", Fixture.binary("holes")])
        #expect(result.status == 137, "\(result)")
        #expect(result.stderr.contains("stopping the program"))
        #expect(!result.stdout.contains("done"))
    }

    @Test func filterCommandPrintsTheProgramAndItsSize() {
        let result = Command.run([Paths.parrot, "filter"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("BPF instructions"))
        #expect(result.stdout.contains("if ($syscall =="))
        // Answered calls trap here: there is no listener without the agent.
        #expect(!result.stdout.contains("NOTIFY") && !result.stdout.contains("TRACE(4)"))
        let help = Command.run([Paths.parrot, "filter", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE"), "\(help)")
        let stray = Command.run([Paths.parrot, "filter", "true"])
        #expect(stray.status != 0 && stray.stderr.contains("goes after --"), "\(stray)")
    }

    @Test func policySyntaxErrorsNameTheLine() {
        #expect(throws: PolicyError(file: "p", line: 2, message: "unknown action 'trapp'")) {
            try Policy.parse("read 0 allow\nwrite 1 trapp\n", file: "p")
        }
        #expect(throws: PolicyError(file: "p", line: 2, message: "number 0 already classified as read")) {
            try Policy.parse("read 0 allow\nwrite 0 allow\n", file: "p")
        }
    }
}
