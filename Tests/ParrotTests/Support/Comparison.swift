import Foundation
import Testing

/// A program run twice from identical fixtures, natively and under the agent.
struct Scenario: CustomTestStringConvertible, Sendable {
    let name: String
    /// Prepares the fixture (runs natively, before either run).
    var setup: String = ""
    let script: String
    var parrotOptions: [String] = []
    /// Files whose content records inode numbers or times (e.g. git's index).
    var ignoredFiles: Set<String> = []

    var testDescription: String { name }
}

struct RunPair {
    let native: CommandResult
    let traced: CommandResult
    let nativeTree: [String]
    let tracedTree: [String]
}

enum Comparison {
    /// Runs `scenario` natively in one fresh directory and under parrot in another,
    /// with output paths normalized to $DIR.
    static func run(_ scenario: Scenario, timeout: TimeInterval = 180) -> RunPair {
        // Same leaf name in both, so that `basename $PWD` agrees.
        let nativeRoot = Paths.temporaryDirectory("native"), tracedRoot = Paths.temporaryDirectory("traced")
        defer { Paths.remove(nativeRoot); Paths.remove(tracedRoot) }
        let nativeDir = nativeRoot + "/work", tracedDir = tracedRoot + "/work"
        mkdir(nativeDir, 0o755)
        mkdir(tracedDir, 0o755)
        for dir in [nativeDir, tracedDir] where !scenario.setup.isEmpty {
            let setup = Command.shell(scenario.setup, cwd: dir)
            precondition(setup.status == 0, "setup of \(scenario.name) failed: \(setup)")
        }
        let native = normalize(Command.run(["/bin/bash", "-c", scenario.script], cwd: nativeDir, timeout: timeout), nativeDir)
        let traced = normalize(Command.run([Paths.parrot, "run"] + scenario.parrotOptions + ["--", "/bin/bash", "-c", scenario.script],
                                           cwd: tracedDir, timeout: timeout), tracedDir)
        return RunPair(native: native, traced: traced,
                       nativeTree: TreeSnapshot.of(nativeDir, ignoring: scenario.ignoredFiles),
                       tracedTree: TreeSnapshot.of(tracedDir, ignoring: scenario.ignoredFiles))
    }

    static func normalize(_ result: CommandResult, _ dir: String) -> CommandResult {
        CommandResult(status: result.status,
                      stdout: result.stdout.replacingOccurrences(of: dir, with: "$DIR"),
                      stderr: result.stderr.replacingOccurrences(of: dir, with: "$DIR"),
                      timedOut: result.timedOut)
    }

    /// Output, status and files must be identical.
    static func expectIdentical(_ pair: RunPair, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!pair.traced.timedOut, "timed out", sourceLocation: sourceLocation)
        #expect(pair.traced.status == pair.native.status, "exit status differs: native \(pair.native) traced \(pair.traced)", sourceLocation: sourceLocation)
        #expect(pair.traced.stdout == pair.native.stdout, "stdout differs:\n\(pair.native.stdout)\n---\n\(pair.traced.stdout)", sourceLocation: sourceLocation)
        #expect(pair.traced.stderr == pair.native.stderr, "stderr differs:\n\(pair.native.stderr)\n---\n\(pair.traced.stderr)", sourceLocation: sourceLocation)
        #expect(pair.tracedTree == pair.nativeTree, "resulting files differ", sourceLocation: sourceLocation)
    }
}
