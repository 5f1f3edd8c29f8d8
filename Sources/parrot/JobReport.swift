import ParrotAgent
import ParrotFilter
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// The files and tables a job report is made of (--stats-file, -W,
/// --name-list, --env-list).
struct JobReport {
    let recorder: JobRecorder
    let policy: Policy
    let command: [String]
    let startedAt: Double

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Trapped calls by name, most frequent first.
    var syscallCounts: [(String, Int)] {
        recorder.syscallCounts.enumerated().filter { $0.element > 0 }
            .map { (SyscallNames.name(of: $0.offset, policy: policy), $0.element) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    func statistics(_ termination: Termination) -> String {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        let cpu = { (t: timeval) in Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let json = JSONWriter()
        json.object {
            json.field("command") { json.array(command.map { s in { json.string(s) } }) }
            json.field("ending") { ending(json, termination) }
            json.field("wall_seconds") { json.number(Self.now() - startedAt) }
            json.field("user_cpu_seconds") { json.number(cpu(usage.ru_utime)) }
            json.field("system_cpu_seconds") { json.number(cpu(usage.ru_stime)) }
            json.field("peak_memory_kib") { json.integer(Int64(usage.ru_maxrss)) }
            json.field("processes") {
                json.array(recorder.processOrder.compactMap { recorder.processes[$0] }.map { process in {
                    json.object {
                        json.field("pid") { json.integer(Int64(process.pid)) }
                        json.field("parent") { json.integer(Int64(process.parent)) }
                        json.field("argv") { json.array(process.argv.map { s in { json.string(s) } }) }
                        json.field("ending") {
                            if let how = process.termination { ending(json, how) } else { json.raw("null") }
                        }
                    }
                } })
            }
            json.field("trapped_syscalls") {
                json.object { for (name, count) in syscallCounts { json.field(name) { json.integer(Int64(count)) } } }
            }
            json.field("services") {
                json.object {
                    for (server, use) in recorder.services.sorted(by: { $0.key < $1.key }) {
                        json.field(server) {
                            json.object {
                                json.field("bytes_read") { json.integer(use.bytesRead) }
                                json.field("bytes_written") { json.integer(use.bytesWritten) }
                                json.field("wait_seconds") { json.number(Double(use.waitNanoseconds) / 1e9) }
                                json.field("operations") {
                                    json.object {
                                        for (op, count) in use.operations.sorted(by: { $0.key < $1.key }) {
                                            json.field(op) { json.integer(Int64(count)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            json.field("mounts") {
                json.object {
                    for (entry, count) in recorder.mountUses.sorted(by: { $0.key < $1.key }) {
                        json.field(entry) { json.object { json.field("path_operations") { json.integer(Int64(count)) } } }
                    }
                }
            }
            json.field("cache") {
                json.object {
                    let (hits, misses) = recorder.cacheStatistics()
                    json.field("hits") { json.integer(Int64(hits)) }
                    json.field("misses") { json.integer(Int64(misses)) }
                    json.field("local_copies") { json.integer(Int64(recorder.localCopies)) }
                }
            }
        }
        return json.text + "\n"
    }

    private func ending(_ json: JSONWriter, _ how: Termination) {
        switch how {
        case .exited(let code): json.object { json.field("exit") { json.integer(Int64(code)) } }
        case .signaled(let sig): json.object { json.field("signal") { json.integer(Int64(sig)) } }
        }
    }

    /// -W: a table of trapped calls.
    var syscallTable: String {
        let counts = syscallCounts
        let total = counts.reduce(0) { $0 + $1.1 }
        var lines = ["trapped calls: \(total)"]
        for (name, count) in counts {
            lines.append(String(repeating: " ", count: max(0, 10 - String(count).count)) + "\(count)  \(name)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// --name-list: USE<TAB>PATH per line, in the order first seen, after
    /// the directory the job started in (use `cwd`).
    func nameList(startDirectory: String) -> String {
        "cwd\t\(startDirectory)\n" + recorder.nameOrder.map { "\(recorder.names[$0]!.label)\t\($0)\n" }.joined()
    }

    /// --env-list: NAME=VALUE entries, each ending in a NUL (values may hold newlines).
    static func environmentList(_ environment: [String]) -> String {
        environment.map { $0 + "\0" }.joined()
    }
}

/// Just enough JSON writing for the report (strings escaped per RFC 8259).
final class JSONWriter {
    private(set) var text = ""
    private var needsComma = [false]

    private func separate() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    func object(_ body: () -> Void) {
        separate(); text += "{"; needsComma.append(false); body(); needsComma.removeLast(); text += "}"
    }

    func array(_ items: [() -> Void]) {
        separate(); text += "["; needsComma.append(false); items.forEach { $0() }; needsComma.removeLast(); text += "]"
    }

    func field(_ name: String, _ value: () -> Void) {
        separate()
        text += Self.quoted(name) + ":"
        needsComma.append(false); value(); needsComma.removeLast()
    }

    func string(_ value: String) { separate(); text += Self.quoted(value) }
    func integer(_ value: Int64) { separate(); text += String(value) }
    func number(_ value: Double) { separate(); text += value.isFinite ? String(value) : "null" }
    func raw(_ value: String) { separate(); text += value }

    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
