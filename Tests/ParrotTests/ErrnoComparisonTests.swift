import Foundation
import Testing

/// Calls that fail give the errno a local filesystem gives, on both servers
/// and in both modes: the same probe (Tests/Fixtures/errnoprobe.py) runs
/// natively and through the agent, line for line.
@Suite struct ErrnoComparisonTests {
    static let probe = Paths.repository + "/Tests/Fixtures/errnoprobe.py"

    @Test(arguments: ChirpServerKind.allCases) func failuresMatchALocalFilesystem(_ kind: ChirpServerKind) throws {
        let local = Paths.temporaryDirectory("errno")
        defer { Paths.remove(local) }
        let native = Command.run(["python3", Self.probe, local])
        try #require(native.status == 0 && native.stdout.split(separator: "\n").count == 55, "\(native)")
        try withChirpServer(kind) { server in
            let cache = Paths.temporaryDirectory("cache")
            defer { Paths.remove(cache) }
            for (index, options) in [[], ["--no-cache"]].enumerated() {
                server.makeDirectory("/e\(index)")
                let result = Command.run([Paths.parrot, "run", "-t", cache] + options
                                         + ["--", "python3", Self.probe, "/chirp/127.0.0.1:\(server.port)/e\(index)"])
                let differing = zip(native.stdout.split(separator: "\n"), result.stdout.split(separator: "\n"))
                    .filter { $0 != $1 }.map { "native \($0), agent \($1)" }
                #expect(result.status == 0 && result.stdout == native.stdout, "\(options) \(differing) \(result)")
            }
        }
    }
}
