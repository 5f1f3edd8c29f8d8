import ParrotNamespace
import ParrotServices

/// Small writes to a streamed file, gathered in the agent while they follow
/// one another in the file (or write over what the run holds) and sent as
/// one write when the run ends: every
/// write is a stop anyway, but the server then sees one request per 256 KiB
/// instead of one per 4 or 8 KiB (stdio, tar, compressors), which is what it
/// spends its time on. A run is sent before anything else reaches a service
/// (Agent.handleSyscall), before another write that does not follow it, and
/// at the file's close and fsync, so no one can see the file without it. A
/// run that fails is reported by the file's next write, fsync or close, as
/// the drivers' writes sent ahead are. A program that writes a line and then
/// sleeps or computes makes no trapped call: its run goes out `longestWait`
/// after it began all the same (the tracer wakes for it), as a client's dirty
/// data reaches an NFS server without a close. Half a second: well inside
/// any server's idle timeout, so the connection is still the one in use.
final class GatheredWrites {
    /// Writes up to this size are gathered; larger ones go out at once.
    static let smallWrite = 64 << 10
    static let capacity = 256 << 10
    static let longestWait: UInt64 = 500_000_000

    private struct Run {
        let file: OpenFile
        let offset: Int64
        let buffer: UnsafeMutableRawBufferPointer
        /// When the first write was gathered (monotonic ns).
        let began: UInt64
        var count = 0
        var end: Int64 { offset + Int64(count) }
    }

    private var runs: [ObjectIdentifier: Run] = [:]
    private var failures: [ObjectIdentifier: ServiceError] = [:]
    private let send: (OpenFile, UnsafeRawBufferPointer, Int64) throws(ServiceError) -> Void

    /// `send` writes a run to its file at its offset.
    init(send: @escaping (OpenFile, UnsafeRawBufferPointer, Int64) throws(ServiceError) -> Void) {
        self.send = send
    }

    var isEmpty: Bool { runs.isEmpty }

    /// When the oldest run must go out at the latest.
    var deadline: UInt64? { runs.values.lazy.map(\.began).min().map { $0 + Self.longestWait } }

    /// Where `count` bytes written at `offset` go in the file's run (started
    /// here if it has none); nil when they would leave a gap in it or do not
    /// fit, after which `flush(file)` and a second try start a new run.
    func room(in file: OpenFile, count: Int, at offset: Int64) -> UnsafeMutableRawBufferPointer? {
        let id = ObjectIdentifier(file)
        guard let run = runs[id] else {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.capacity, alignment: 16)
            runs[id] = Run(file: file, offset: offset, buffer: buffer, began: Deadline.now.nanoseconds)
            return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        }
        guard offset >= run.offset, offset <= run.end, offset - run.offset + Int64(count) <= Int64(Self.capacity) else { return nil }
        let start = Int(offset - run.offset)
        return UnsafeMutableRawBufferPointer(rebasing: run.buffer[start..<(start + count)])
    }

    /// The bytes `room` gave for `count` bytes at `offset` are filled in.
    func filled(_ file: OpenFile, _ count: Int, at offset: Int64) {
        guard let run = runs[ObjectIdentifier(file)] else { return }
        runs[ObjectIdentifier(file)]?.count = max(run.count, Int(offset - run.offset) + count)
    }

    /// Sends the file's run, if it has one.
    func flush(_ file: OpenFile) {
        guard let run = runs.removeValue(forKey: ObjectIdentifier(file)) else { return }
        defer { run.buffer.deallocate() }
        guard run.count > 0 else { return }
        do throws(ServiceError) {
            try send(file, UnsafeRawBufferPointer(rebasing: run.buffer[..<run.count]), run.offset)
        } catch {
            if failures[ObjectIdentifier(file)] == nil { failures[ObjectIdentifier(file)] = error }
        }
    }

    /// Sends every run (but `file`'s).
    func flushAll(except file: OpenFile? = nil) {
        for run in Array(runs.values) where run.file !== file { flush(run.file) }
    }

    /// Sends the file's run; throws its failure, or an earlier run's.
    func flushReporting(_ file: OpenFile) throws(ServiceError) {
        flush(file)
        if let failure = takeFailure(file) { throw failure }
    }

    /// A run of the file's that failed, once.
    func takeFailure(_ file: OpenFile) -> ServiceError? {
        failures.removeValue(forKey: ObjectIdentifier(file))
    }
}
