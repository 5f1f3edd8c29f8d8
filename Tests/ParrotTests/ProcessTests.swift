import Foundation
import Testing

/// Processes, threads, signals and job control under the agent.
@Suite struct ProcessTests {
    /// Starts parrot in the background; returns the process and its pid.
    func start(_ arguments: [String], cwd: String = "/") -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.parrot)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let out = Pipe()
        process.standardOutput = out
        try! process.run()
        // Deadline: a hang fails the test instead of blocking the suite.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { kill(pid, SIGKILL) }
        return (process, out)
    }

    func waitFor(_ path: String, seconds: Double = 20) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") { return text }
            usleep(20_000)
        }
        return nil
    }

    func isGone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return true }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return stat.contains(") Z ")  // a zombie waiting for init is gone too
    }

    /// A negative number after a numeric option is that option's bad value,
    /// named, not a missing value (the parser took "-1" for an option).
    @Test func numericOptionsNameTheirBadValue() {
        for (option, message) in [("-T", "-T -1.0: must be a positive number"), ("-b", "-b -1: a size from 512 bytes"),
                                  ("--attr-timeout", "--attr-timeout -1.0: must be 0 or more")] {
            let result = Command.run([Paths.parrot, "run", option, "-1", "--", "/bin/true"])
            #expect(result.status == 64 && result.stderr.contains(message), "\(option): \(result)")
        }
    }

    @Test func sigtermToTheAgentReachesTheProgram() throws {
        let dir = Paths.temporaryDirectory("term")
        defer { Paths.remove(dir) }
        let (process, out) = start(["run", "--", "/bin/sh", "-c",
            "trap 'echo got TERM; exit 5' TERM; echo ready > \(dir)/ready; while :; do sleep 0.05; done"])
        try #require(waitFor(dir + "/ready") != nil)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 5)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "got TERM\n")
    }

    @Test func killingTheAgentLeavesNoProcessBehind() throws {
        let dir = Paths.temporaryDirectory("kill")
        defer { Paths.remove(dir) }
        let (process, _) = start(["run", "--", "/bin/sh", "-c",
            "sleep 300 & echo $! > \(dir)/child; echo $$ > \(dir)/shell; wait"])
        let child = try #require(waitFor(dir + "/child").flatMap { pid_t($0.trimmingCharacters(in: .newlines)) })
        let shell = try #require(waitFor(dir + "/shell").flatMap { pid_t($0.trimmingCharacters(in: .newlines)) })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && !(isGone(child) && isGone(shell)) { usleep(20_000) }
        #expect(isGone(child), "sleep \(child) outlived the agent")
        #expect(isGone(shell), "sh \(shell) outlived the agent")
    }

    @Test func jobControlInAnInteractiveShell() {
        let result = Command.run(["/usr/bin/python3", Paths.repository + "/Tests/Fixtures/jobcontrol.py", Paths.parrot],
                                 timeout: 60)
        #expect(result.stdout == "stopped\nlisted\nresumed\nstatus 0\nexit 3\n", "\(result)")
    }

    /// A program killed from outside while its threads fork: the agent ends,
    /// though the child made last is never reported by its dead maker (it
    /// was held for that report, stopped, and the agent waited for ever).
    @Test func aProgramKilledWhileItForksLetsTheAgentEnd() {
        let script = """
            hung=0
            for i in $(seq 12); do
              "$0" run -- "$1" & agent=$!
              # Under load the program may start late: killed before it
              # exists, nothing would stop its forking, and the agent would
              # rightly go on tracing it.
              for t in $(seq 200); do [ -n "$(pgrep -P $agent)" ] && break; sleep 0.05; done
              sleep 0.$(( RANDOM % 4 + 1 ))
              kill -KILL $(pgrep -P $agent)
              for t in $(seq 150); do kill -0 $agent 2>/dev/null || break; sleep 0.1; done
              if kill -0 $agent 2>/dev/null; then
                hung=$((hung + 1))
                # What was left, for the failure's message.
                for t in /proc/$agent/task/*; do echo "agent thread ${t##*/}: $(cat $t/wchan) $(grep State $t/status)" >&2; done
                for p in $(pgrep -f "$1"); do echo "left $p: $(grep -E '^(State|PPid|TracerPid)' /proc/$p/status | tr '\n' ' ')" >&2; done
                kill -KILL $agent
              fi
              wait $agent 2>/dev/null
            done
            echo "hung $hung"
            """
        let result = Command.run(["/bin/bash", "-c", script, Paths.parrot, Fixture.binary("forkstorm", flags: ["-pthread"])],
                                 timeout: 120)
        #expect(result.stdout == "hung 0\n", "\(result)")
    }

    @Test func execFromANonLeaderThread() {
        let result = Command.run([Paths.parrot, "run", "--", Fixture.binary("threadexec", flags: ["-pthread"])])
        #expect(result.status == 0)
        #expect(result.stdout == "exec from a thread\n", "\(result)")
    }

    @Test func rewrittenCallRestartedAfterSignals() {
        let dir = Paths.temporaryDirectory("fifo")
        defer { Paths.remove(dir) }
        mkfifo(dir + "/fifo", 0o644)
        let result = Command.run([Paths.parrot, "run", "-M", "/data=\(dir)", "--", Fixture.binary("fiforestart"), "/data/fifo"])
        #expect(result.stdout == "read 8 through\ninterrupted many times\n", "\(result)")
        #expect(result.status == 0)
    }

    @Test func statusFileAndExitStatusOfASignal() {
        let dir = Paths.temporaryDirectory("status")
        defer { Paths.remove(dir) }
        let killed = Command.run([Paths.parrot, "run", "-c", dir + "/status", "--", "/bin/sh", "-c", "kill -USR1 $$"])
        #expect(killed.status == 128 + SIGUSR1)
        #expect((try? String(contentsOfFile: dir + "/status", encoding: .utf8))?.hasPrefix("signal \(SIGUSR1) ") == true)
        let exited = Command.run([Paths.parrot, "run", "-c", dir + "/status", "--", "/bin/sh", "-c", "exit 42"])
        #expect(exited.status == 42)
        #expect((try? String(contentsOfFile: dir + "/status", encoding: .utf8)) == "exit 42\n")
    }

    @Test func debugLogShowsTrappedCallsWithResults() throws {
        let dir = Paths.temporaryDirectory("debug")
        defer { Paths.remove(dir) }
        Paths.write("x\n", to: dir + "/file")
        let result = Command.run([Paths.parrot, "run", "-d", "syscall", "-o", dir + "/log", "--",
                                  "/bin/cat", dir + "/file", dir + "/missing"])
        #expect(result.status == 1)
        #expect(result.stdout == "x\n")
        let log = try String(contentsOfFile: dir + "/log", encoding: .utf8)
        let lines = log.split(separator: "\n")
        #expect(lines.contains { $0.contains("openat(AT_FDCWD, \"\(dir)/file\", 0") && $0.hasSuffix(") = 3") }, "\(log)")
        #expect(lines.contains { $0.contains("openat(AT_FDCWD, \"\(dir)/missing\", 0") && $0.hasSuffix(") = -1 ENOENT") }, "\(log)")
        #expect(log.contains("execve(\"/bin/cat\""), "\(log)")
        let bad = Command.run([Paths.parrot, "run", "-d", "everything", "--", "/bin/true"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown debug flag 'everything'"))
    }

    @Test func installedAsParrotRun() {
        let dir = Paths.temporaryDirectory("alias")
        defer { Paths.remove(dir) }
        symlink(Paths.parrot, dir + "/parrot_run")
        let result = Command.run([dir + "/parrot_run", "-M", "/data=\(dir)", "--", "/bin/sh", "-c", "ls /data; exit 4"])
        #expect(result.status == 4)
        #expect(result.stdout == "parrot_run\n", "\(result)")
    }

    @Test func missingProgramIsReportedLikeAShell() {
        let result = Command.run([Paths.parrot, "run", "--", "no-such-program-anywhere"])
        #expect(result.status == 127)
        #expect(result.stderr.contains("no-such-program-anywhere: cannot execute: ENOENT"))
        // The child fails before it stops to be traced: its own report is shown.
        let badDir = Command.run([Paths.parrot, "run", "-w", "/etc/hostname", "--", "/bin/true"])
        #expect(badDir.status == 125 && badDir.stderr.contains("cannot change to the working directory: ENOTDIR"), "\(badDir)")
        let empty = Command.run([Paths.parrot, "run"])
        #expect(empty.status != 0 && empty.stderr.contains("missing the command"))
    }
}

/// Where ptrace or seccomp is refused (as in a locked-down container), one line
/// says what is missing and nothing runs.
@Suite struct UnavailableKernelFeatureTests {
    @Test(arguments: ["ptrace", "seccomp"])
    func explainsWhatIsMissing(_ feature: String) {
        let dir = Paths.temporaryDirectory("deny")
        defer { Paths.remove(dir) }
        let result = Command.run([Fixture.binary("deny"), feature, Paths.parrot, "run", "--", "/bin/sh", "-c", "touch \(dir)/ran"])
        #expect(result.status == 125, "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(result.stderr.contains(feature == "ptrace" ? "ptrace is not permitted here" : "refused the seccomp filter"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"))
    }
}
