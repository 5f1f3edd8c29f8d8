import Foundation
import Testing

/// -U / -G: the program sees the fake ids; files keep the real owner.
@Suite struct IdentityTests {
    @Test func fakeIdsAreReportedAndFilesKeepTheRealOwner() {
        let dir = Paths.temporaryDirectory("identity")
        defer { Paths.remove(dir) }
        let result = Command.run([Paths.parrot, "run", "-U", "4242", "-G", "4343", "--", "/bin/sh", "-c", """
            id -u; id -g
            python3 -c 'import os; print(os.getresuid(), os.getresgid(), os.geteuid(), os.getegid())'
            touch f && stat -c %u:%g f
            """], cwd: dir)
        #expect(result.stdout == """
            4242
            4343
            (4242, 4242, 4242) (4343, 4343, 4343) 4242 4343
            \(getuid()):\(getgid())

            """, "\(result)")
    }

    @Test func onlyTheGivenIdIsFaked() {
        let result = Command.run([Paths.parrot, "run", "-G", "77", "--", "/bin/sh", "-c", "id -u; id -g"])
        #expect(result.stdout == "\(getuid())\n77\n", "\(result)")
    }
}
