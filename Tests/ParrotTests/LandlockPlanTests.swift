import Testing
import ParrotNamespace
@testable import ParrotSandbox

/// A host tree described by its directories' entries.
private struct FakeTree: HostDirectoryLister {
    let entries: [String: [String]]
    func children(of path: String) -> [String] { entries[path] ?? [] }
}

private let tree = FakeTree(entries: [
    "/": ["bin", "etc", "home", "tmp", "work"],
    "/home": ["alice", "bob"],
    "/tmp": ["a", "private"],
])

private func grant(_ path: String, _ letters: String) -> HostGrant {
    HostGrant(path: path, mode: letters == "-" ? [] : AccessMode(letters: letters)!, origin: "test")
}

private func rules(_ plan: LandlockPlan) -> [String] {
    plan.rules.map { "\($0.path) \($0.mode)" }.sorted()
}

@Suite struct LandlockPlanTests {
    @Test func widerNestedGrantsAreRulesOfTheirOwn() {
        let plan = LandlockPlan(grants: [grant("/", "rx"), grant("/work", "rwx")], lister: tree)
        #expect(rules(plan) == ["/ r-x", "/work rwx"])
        #expect(plan.narrowings.isEmpty)
    }

    @Test func aDenyInsideAnAllowedTreeIsCarvedAround() {
        let plan = LandlockPlan(grants: [grant("/", "rx"), grant("/home/bob", "-"), grant("/work", "rwx")], lister: tree)
        // "/" and "/home" keep nothing of their own (a rule there would reach
        // /home/bob); every sibling on the way gets the outer rights.
        #expect(rules(plan) == ["/bin r-x", "/etc r-x", "/home/alice r-x", "/tmp r-x", "/work rwx"])
        #expect(plan.narrowings.map(\.path) == ["/", "/home"])
        #expect(plan.narrowings.allSatisfy { $0.kernel.isEmpty && $0.around == ["/home/bob"] })
    }

    @Test func aNarrowerGrantKeepsTheCommonFloor() {
        let plan = LandlockPlan(grants: [grant("/tmp", "rwx"), grant("/tmp/private", "r")], lister: tree)
        #expect(rules(plan) == ["/tmp r--", "/tmp/a rwx", "/tmp/private r--"])
        #expect(plan.narrowings == [LandlockPlan.Narrowing(path: "/tmp", policy: .all, kernel: .read, around: ["/tmp/private"])])
    }

    @Test func noGrantMeansNoRule() {
        #expect(LandlockPlan(grants: [grant("/", "-")], lister: tree).rules.isEmpty)
    }

    @Test func grantsFollowRedirectsAndDenies() {
        let table = MountTable([
            MountEntry(prefix: "/", target: .local, mode: [.read, .execute]),
            MountEntry(prefix: "/data", target: .redirect("/nonexistent-host/job"), mode: .all),
            MountEntry(prefix: "/data/keys", target: .deny),
        ])
        let grants = HostGrant.grants(for: table).map(\.description)
        // The redirect grants its host target; the DENY takes the host path the
        // redirect would have given it.
        #expect(grants == ["/ r-x", "/nonexistent-host/job rwx", "/nonexistent-host/job/keys ---"])
    }

    @Test func landlockRightsOfModes() {
        #expect(LandlockAccess(mode: .read) == [.readFile, .readDir])
        #expect(LandlockAccess(mode: .execute) == .execute)
        #expect(!LandlockAccess(mode: .all).contains(.makeChar) && !LandlockAccess(mode: .all).contains(.makeBlock))
        #expect(LandlockAccess.handled(abi: 1).rawValue == (1 << 13) - 1)
        #expect(LandlockAccess.handled(abi: 7).contains([.refer, .truncate, .ioctlDev]))
    }
}
