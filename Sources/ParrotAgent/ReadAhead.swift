import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Reads ahead on handles read in sequence, as NFS clients do: a program
/// reading a streamed remote file (--no-cache) 4 KiB at a time pays a round
/// trip per read otherwise. The second read that continues the one before
/// fetches a window (64 KiB or four reads, doubling with each fetch up to
/// 1 MiB), and reads that fall inside it are answered without a request.
///
/// The data is trusted as long as the server's answers to stat are
/// (`lifetime`, see AttributeCache, which owns this and forgets the data of
/// the names a change made through the agent touches); a random read, or a
/// read no bigger than the window, goes to the server as before. At most
/// `budget` bytes are held, the least recently used handles' first to go.
final class ReadAhead: @unchecked Sendable {
    static let firstWindow = 64 << 10
    static let largestWindow = 1 << 20
    static let budget = 16 << 20

    let lifetime: Double

    /// What is known about reads through one handle.
    private struct Stream {
        /// The remote file's path, when the open went through the owner.
        var path: String?
        /// Where a read continuing the last one starts (-1: none yet).
        var next: Int64 = -1
        /// The size of the last fetch (0: none yet).
        var window = 0
        /// File bytes from `start`, fetched together.
        var data: [UInt8] = []
        var start: Int64 = 0
        /// The file ended inside `data` when it was fetched.
        var atEnd = false
        /// When `data` stops being trusted.
        var until: UInt64 = 0
        /// Order of last use, for eviction.
        var used: UInt64 = 0
    }

    private var streams: [ServiceHandle: Stream] = [:]
    private var held = 0
    private var clock: UInt64 = 0
    private let lock = Mutex()

    init(lifetime: Double) {
        self.lifetime = lifetime
    }

    func opened(_ handle: ServiceHandle, path: String) {
        lock.withLock { dropData(of: handle, keepingState: false, path: path) }
    }

    func closed(_ handle: ServiceHandle) {
        lock.withLock { dropData(of: handle, keepingState: false, path: nil) }
    }

    /// Forgets the data of handles on `names`, on anything under `prefixes`,
    /// and of handles whose path is not known.
    func forget(names: Set<String>, prefixes: [String]) {
        lock.withLock {
            for (handle, stream) in streams where !stream.data.isEmpty || stream.atEnd {
                guard let path = stream.path else {
                    dropData(of: handle)
                    continue
                }
                if names.contains(path) || prefixes.contains(where: { path.hasPrefix($0) }) { dropData(of: handle) }
            }
        }
    }

    func forgetAll() {
        lock.withLock {
            for handle in streams.keys { dropData(of: handle) }
        }
    }

    /// Bytes held for all handles (for tests).
    var heldBytes: Int { lock.withLock { held } }

    /// Fills `buffer` from `offset` as pread does, from data read ahead where
    /// it can and through `fetch` (the server's pread) for the rest.
    func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
               fetch: (UnsafeMutableRawBufferPointer, Int64) throws(ServiceError) -> Int) throws(ServiceError) -> Int {
        let want = buffer.count
        guard want > 0, want < Self.largestWindow else { return try passedOn(handle, buffer, offset, fetch) }
        let now = Deadline.coarseNow.nanoseconds
        // Answered from what was fetched before, as far as it goes.
        let (kept, continues, lastWindow) = lock.withLock { () -> (Int, Bool, Int) in
            guard var stream = streams[handle] else { return (0, false, 0) }
            var done = 0
            var ended = false
            if stream.until > now, offset >= stream.start, offset <= stream.start + Int64(stream.data.count) {
                let from = Int(offset - stream.start)
                done = min(stream.data.count - from, want)
                stream.data.withUnsafeBytes { bytes in
                    buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + from, byteCount: done)
                }
                ended = stream.atEnd
            }
            let continues = stream.next == offset
            if done > 0 || ended {
                stream.next = offset + Int64(done)
                clock += 1
                stream.used = clock
            }
            streams[handle] = stream
            return (ended ? -1 - done : done, continues, stream.window)
        }
        if kept < 0 { return -1 - kept }  // the file ended there when the data was fetched
        if kept == want { return kept }
        let position = offset + Int64(kept)
        let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[kept...])
        // A read that does not continue the last one goes out as asked.
        guard continues || kept > 0 else { return try passedOn(handle, rest, position, fetch) }
        let window = min(max(Self.firstWindow, lastWindow * 2, want * 4), Self.largestWindow)
        guard window > rest.count else { return kept + (try passedOn(handle, rest, position, fetch)) }
        var data = [UInt8](repeating: 0, count: window)
        var failure: ServiceError?
        let count = data.withUnsafeMutableBytes { bytes in
            do throws(ServiceError) { return try fetch(bytes, position) } catch {
                failure = error
                return 0
            }
        }
        if let failure {
            if kept > 0 { return kept }  // what was read before the failure, as read(2) returns it
            throw failure
        }
        data.removeLast(window - count)
        let given = min(count, rest.count)
        data.withUnsafeBytes { rest.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: given) }
        let until = lifetime.isInfinite ? UInt64.max : Deadline.coarseNow.nanoseconds + UInt64(lifetime * 1e9)
        lock.withLock {
            var stream = streams[handle] ?? Stream()
            held += count - stream.data.count
            clock += 1
            stream.data = data
            stream.start = position
            stream.atEnd = count < window
            stream.until = until
            stream.window = window
            stream.next = position + Int64(given)
            stream.used = clock
            streams[handle] = stream
            evict(sparing: handle)
        }
        return kept + given
    }

    /// A read that reads nothing ahead; it still says where the next one would continue.
    private func passedOn(_ handle: ServiceHandle, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64,
                          _ fetch: (UnsafeMutableRawBufferPointer, Int64) throws(ServiceError) -> Int) throws(ServiceError) -> Int {
        let count = try fetch(buffer, offset)
        lock.withLock {
            var stream = streams[handle] ?? Stream()
            stream.next = offset + Int64(count)
            streams[handle] = stream
        }
        return count
    }

    /// Drops a handle's data (under the lock); without `keepingState` also
    /// what it knows of the reads, and records `path` for a handle just opened.
    private func dropData(of handle: ServiceHandle, keepingState: Bool = true, path: String? = nil) {
        if let stream = streams[handle] { held -= stream.data.count }
        if keepingState, var stream = streams[handle] {
            stream.data = []
            stream.atEnd = false
            streams[handle] = stream
        } else if let path {
            streams[handle] = Stream(path: path)
        } else {
            streams[handle] = nil
        }
    }

    /// Keeps at most `budget` bytes, dropping the least recently used data first.
    private func evict(sparing handle: ServiceHandle) {
        while held > Self.budget {
            guard let oldest = streams.filter({ $0.key != handle && !$0.value.data.isEmpty })
                .min(by: { $0.value.used < $1.value.used })?.key else { return }
            dropData(of: oldest)
        }
    }
}
