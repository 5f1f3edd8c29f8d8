import Foundation

/// The result of running a command to completion.
struct CommandResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    let timedOut: Bool

    var description: String { "status \(status)\(timedOut ? " (timed out)" : "")\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// python3 -c this PROGRAM ARGS...: PROGRAM with an empty signal mask and default dispositions.
let cleanSignalsThenExec = """
    import os, signal, sys
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for s in (signal.SIGPIPE, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
    """

enum Command {
    /// Runs `argv` with a deadline: on timeout the process is killed (SIGKILL
    /// takes the agent, and PTRACE_O_EXITKILL its tracees, with it).
    @discardableResult
    static func run(_ argv: [String], cwd: String? = nil, environment: [String: String]? = nil,
                    stdin: String? = nil, timeout: TimeInterval = 120) -> CommandResult {
        let process = Process()
        // The test runner's threads block some signals and exec keeps the mask:
        // start every command with a clean mask and default dispositions, as a
        // shell would.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", cleanSignalsThenExec, argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env"]
            + (argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv)
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        env["TZ"] = "UTC"
        for (key, value) in environment ?? [:] { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        // Drain both pipes while the process runs so a chatty program cannot block.
        let outData = Drain(out.fileHandleForReading), errData = Drain(err.fileHandleForReading)
        do { try process.run() } catch {
            return CommandResult(status: 127, stdout: "", stderr: "cannot run \(argv[0]): \(error)", timedOut: false)
        }
        if let stdin { input.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2000)
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return CommandResult(status: status, stdout: outData.text(), stderr: errData.text(), timedOut: timedOut)
    }

    static func shell(_ script: String, cwd: String? = nil, timeout: TimeInterval = 120) -> CommandResult {
        run(["/bin/bash", "-c", script], cwd: cwd, timeout: timeout)
    }
}

/// Collects everything a pipe delivers, on a background thread.
final class Drain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data.append(chunk)
            }
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
