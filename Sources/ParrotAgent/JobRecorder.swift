import ParrotFilter
import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// What a job did, for --stats-file, -W and --name-list: trapped calls by
/// name, processes with their command lines and ends, remote operations and
/// bytes per server, and every path resolved with how it was used.
public final class JobRecorder: @unchecked Sendable {
    public struct ProcessRecord: Sendable {
        public let pid: pid_t
        public let parent: pid_t
        public var argv: [String] = []
        public var termination: Termination?
    }

    /// How a path was used; a name keeps the strongest use seen.
    public enum NameUse: Int, Comparable, Sendable, CaseIterable {
        case stat = 0, read, execute, write
        public var label: String { ["stat", "read", "execute", "write"][rawValue] }
        public static func < (a: NameUse, b: NameUse) -> Bool { a.rawValue < b.rawValue }
    }

    public struct ServiceUse: Sendable {
        public var operations: [String: Int] = [:]
        public var bytesRead: Int64 = 0
        public var bytesWritten: Int64 = 0
        public var waitNanoseconds: UInt64 = 0
    }

    public let recordsNames: Bool
    public private(set) var syscallCounts: [Int]
    public private(set) var processes: [pid_t: ProcessRecord] = [:]
    public private(set) var processOrder: [pid_t] = []
    public private(set) var services: [String: ServiceUse] = [:]
    public private(set) var mountUses: [String: Int] = [:]
    public private(set) var names: [String: NameUse] = [:]
    public private(set) var nameOrder: [String] = []
    public var localCopies = 0
    /// The cache's hits and misses, read when the report is written.
    public var cacheStatistics: () -> (hits: Int, misses: Int) = { (0, 0) }
    let lock = Mutex()

    public init(syscallCount: Int, recordsNames: Bool) {
        syscallCounts = Array(repeating: 0, count: syscallCount)
        self.recordsNames = recordsNames
    }

    @inline(__always) func count(_ number: Int) {
        if number < syscallCounts.count { syscallCounts[number] += 1 }
    }

    func processStarted(_ pid: pid_t, parent: pid_t) {
        // A fork runs its parent's program until it execs.
        processes[pid] = ProcessRecord(pid: pid, parent: parent, argv: processes[parent]?.argv ?? [])
        processOrder.append(pid)
    }

    func processExeced(_ pid: pid_t, formerTid: pid_t) {
        if formerTid != pid, processes[pid] == nil, let record = processes[formerTid] {
            processes[pid] = record
        }
        processes[pid]?.argv = Self.commandLine(pid)
    }

    func processExited(_ pid: pid_t, how: Termination) {
        processes[pid]?.termination = how
    }

    func noteName(_ path: String, _ use: NameUse) {
        if let known = names[path] {
            if use > known { names[path] = use }
        } else {
            names[path] = use
            nameOrder.append(path)
        }
    }

    func noteMount(_ entry: MountEntry) {
        mountUses[entry.origin.isEmpty ? entry.prefix : "\(entry.prefix) (\(entry.origin))", default: 0] += 1
    }

    /// One service operation (called from the tracer thread, through MeteredService).
    func noteService(_ server: String, _ operation: String, read: Int64 = 0, written: Int64 = 0, nanoseconds: UInt64) {
        lock.withLock {
            var use = services[server] ?? ServiceUse()
            use.operations[operation, default: 0] += 1
            use.bytesRead += read
            use.bytesWritten += written
            use.waitNanoseconds += nanoseconds
            services[server] = use
        }
    }

    static func commandLine(_ pid: pid_t) -> [String] {
        guard let file = try? LocalDescriptor.open("/proc/\(pid)/cmdline", flags: O_RDONLY, mode: 0) else { return [] }
        defer { file.close() }
        let bytes = (try? file.readAll()) ?? []
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A plain pthread mutex: service counters may be touched off the tracer thread.
final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
