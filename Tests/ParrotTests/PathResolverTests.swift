import Testing
@testable import ParrotNamespace

/// A host tree described in memory: directories, files and symlinks.
struct FakeHost: HostFileSystem {
    var directories: Set<String> = ["/"]
    var files: Set<String> = []
    var links: [String: String] = [:]

    func kind(ofHostPath path: String) -> HostFileKind? {
        if links[path] != nil { return .symlink }
        if directories.contains(path) { return .directory }
        return files.contains(path) ? .other : nil
    }

    func readLink(hostPath path: String) -> String? { links[path] }
}

@Suite struct PathResolverTests {
    let host = FakeHost(
        directories: ["/", "/srv", "/srv/work", "/srv/work/sub", "/etc", "/usr", "/usr/bin"],
        files: ["/srv/work/f", "/etc/hostname", "/usr/bin/tool"],
        links: ["/srv/work/abs": "/data/f", "/srv/work/up": "../etc", "/srv/work/loop": "loop",
                "/srv/work/escape": "/etc/hostname", "/bin": "usr/bin"])

    func resolver(_ lines: String) throws -> PathResolver {
        PathResolver(table: MountTable(try MountList.parse(lines, file: "test")), fs: host)
    }

    func host(_ outcome: ResolveOutcome) -> String? {
        if case .resolved(let resolution) = outcome { return resolution.hostPath }
        return nil
    }

    @Test func redirectsAndLeavesOtherPathsAlone() throws {
        let r = try resolver("/data /srv/work\n")
        #expect(host(r.resolve("/data/f", followFinal: true)) == "/srv/work/f")
        #expect(host(r.resolve("/data", followFinal: true)) == "/srv/work")
        #expect(host(r.resolve("/data/", followFinal: true)) == "/srv/work/")
        #expect(host(r.resolve("/database", followFinal: true)) == "/database")
        guard case .resolved(let plain) = r.resolve("/etc/hostname", followFinal: true) else { Issue.record(); return }
        #expect(!plain.translated)
    }

    @Test func symlinksAreResolvedInTheProgramsView() throws {
        let r = try resolver("/data /srv/work\n")
        #expect(host(r.resolve("/data/abs", followFinal: true)) == "/srv/work/f")
        #expect(host(r.resolve("/data/abs", followFinal: false)) == "/srv/work/abs")
        #expect(host(r.resolve("/data/escape", followFinal: true)) == "/etc/hostname")
        // `..` leaves the mount for the program's parent, not the host's.
        #expect(host(r.resolve("/data/../etc/hostname", followFinal: true)) == "/etc/hostname")
        #expect(host(r.resolve("/data/sub/../f", followFinal: true)) == "/srv/work/f")
        #expect(host(r.resolve("/bin/tool", followFinal: true)) == "/usr/bin/tool")
        #expect(r.resolve("/data/loop", followFinal: true) == .failed(40))  // ELOOP
        #expect(r.resolve("/data/missing/../f", followFinal: true) == .failed(2))  // ENOENT
    }

    @Test func policiesAndPrecedence() throws {
        let r = try resolver("""
            / /srv
            /data /srv/work r
            /data/sub DENY
            /etc LOCAL
            /hidden ENOENT
            /data /srv/work rx
            """)
        #expect(host(r.resolve("/etc/hostname", followFinal: true)) == "/etc/hostname")
        #expect(r.resolve("/data/sub/x", followFinal: true) == .failed(13))  // EACCES
        #expect(r.resolve("/hidden", followFinal: false) == .failed(2))
        guard case .resolved(let data) = r.resolve("/data/f", followFinal: true) else { Issue.record(); return }
        #expect(data.mode == [.read, .execute])
        #expect(host(r.resolve("/work/f", followFinal: true)) == "/srv/work/f")
    }

    @Test func reverseMappingForDescriptors() throws {
        let table = MountTable(try MountList.parse("/data /srv/work\n/data/deep /srv/work/sub\n", file: "t"))
        #expect(table.virtualPath(forHost: "/srv/work/sub/x") == "/data/deep/x")
        #expect(table.virtualPath(forHost: "/srv/work") == "/data")
        #expect(table.virtualPath(forHost: "/srv/workshop") == "/srv/workshop")
    }

    @Test func mountListErrors() {
        #expect(throws: MountListError(origin: "m:2", message: "prefix 'data' is not an absolute path")) {
            try MountList.parse("# ok\ndata /x\n", file: "m")
        }
        #expect(throws: MountListError(origin: "m:1", message: "expected PREFIX REDIRECT [MODE], got 4 fields")) {
            try MountList.parse("/a /b rw x\n", file: "m")
        }
        #expect(throws: MountListError(origin: "-M /a", message: "expected PREFIX=REDIRECT, e.g. /data=/tmp/work")) {
            try MountList.parseOption("/a")
        }
        #expect((try? MountList.parse("/ rx\n", file: "m"))?.first == MountEntry(prefix: "/", target: .local, mode: [.read, .execute], origin: "m:1"))
    }
}

/// Counts how often the host is asked.
final class CountingHost: HostFileSystem, @unchecked Sendable {
    var tree: FakeHost
    var lookups = 0
    init(_ tree: FakeHost) { self.tree = tree }
    func kind(ofHostPath path: String) -> HostFileKind? { lookups += 1; return tree.kind(ofHostPath: path) }
    func readLink(hostPath path: String) -> String? { tree.readLink(hostPath: path) }
}

@Suite struct HostFileCacheTests {
    let tree = FakeHost(directories: ["/", "/srv", "/srv/work"], files: ["/srv/work/f"], links: ["/srv/l": "work"])

    @Test func remembersExistingPathsUntilInvalidated() throws {
        let host = CountingHost(tree)
        let cache = HostFileCache(base: host)
        let resolver = PathResolver(table: MountTable(try MountList.parse("/data /srv\n", file: "t")), fs: cache)
        #expect(resolver.resolve("/data/l/f", followFinal: true) == resolver.resolve("/data/work/f", followFinal: true))
        let first = host.lookups
        _ = resolver.resolve("/data/l/f", followFinal: true)
        #expect(host.lookups == first, "a second resolution must come from the cache")
        // The program renames: what the cache knew may be wrong now.
        host.tree.links["/srv/l"] = nil
        host.tree.directories.insert("/srv/l")
        cache.invalidate()
        guard case .resolved(let after) = resolver.resolve("/data/l/f", followFinal: true) else { Issue.record(); return }
        #expect(after.hostPath == "/srv/l/f")
        #expect(host.lookups > first)
    }

    @Test func missingPathsAreNotRemembered() {
        let host = CountingHost(tree)
        let cache = HostFileCache(base: host)
        #expect(cache.kind(ofHostPath: "/srv/new") == nil)
        host.tree.files.insert("/srv/new")
        #expect(cache.kind(ofHostPath: "/srv/new") == .other)
    }

    @Test func entriesExpire() {
        let host = CountingHost(tree)
        let cache = HostFileCache(base: host, lifetimeMilliseconds: 0)
        _ = cache.kind(ofHostPath: "/srv")
        _ = cache.kind(ofHostPath: "/srv")
        #expect(host.lookups == 2)
    }
}
