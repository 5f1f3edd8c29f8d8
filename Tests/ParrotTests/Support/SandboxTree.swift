import Foundation

/// A directory for one sandbox test: `work` (rwx in the policy), `outside`
/// (DENY) holding a file whose contents start with SECRET, `hidden` (ENOENT),
/// and `readonly` (rx, like the rest of the host).
struct SandboxTree {
    let root = Paths.temporaryDirectory("sandbox")
    var work: String { root + "/work" }
    var outside: String { root + "/outside" }
    var secret: String { outside + "/secret" }

    init() {
        for dir in ["work", "outside", "hidden", "readonly"] { mkdir(root + "/" + dir, 0o755) }
        Paths.write("SECRET\n", to: secret)
        Paths.write("fine\n", to: work + "/file")
        Paths.write("visible\n", to: root + "/readonly/file")
        Paths.write("hidden\n", to: root + "/hidden/file")
    }

    var policy: [String] {
        ["--sandbox", "-M", "/=rx", "-M", "\(work)=rwx", "-M", "\(outside)=DENY", "-M", "\(root)/hidden=ENOENT"]
    }

    /// Runs `argv` under `parrot run` with the policy (plus `options`), the
    /// start-up report and denials going to a log file read back as `log`.
    func run(_ argv: [String], options: [String] = [], timeout: TimeInterval = 120) -> (CommandResult, log: String) {
        let logFile = root + "/parrot.log"
        let result = Command.run([Paths.parrot, "run", "-o", logFile] + policy + options + ["--"] + argv,
                                 cwd: work, timeout: timeout)
        return (result, (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")
    }

    func shell(_ script: String, options: [String] = []) -> (CommandResult, log: String) {
        run(["/bin/sh", "-c", script], options: options)
    }

    /// The secret file is unchanged.
    var secretIntact: Bool { (try? String(contentsOfFile: secret, encoding: .utf8)) == "SECRET\n" }

    func remove() { Paths.remove(root) }
}
