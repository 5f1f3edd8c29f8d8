import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Reads ahead on handles read in sequence, as NFS clients do, for drivers
/// whose every pread is a round trip (Chirp; HTTP and FTP stream sequential
/// reads themselves): a program reading a streamed remote file (--no-cache)
/// 4 KiB at a time pays a round trip per read otherwise. The second read that
/// continues the one before fetches a window (64 KiB or four reads, doubling
/// with each fetch up to 1 MiB, less when many handles hold data), and reads
/// that fall inside it are answered without a request. A read of 1 MiB or
/// more, or one out of sequence, goes to the server as asked.
///
/// The data is trusted as long as the server's answers to stat are
/// (`lifetime`; AttributeCache owns this). A change of a file's contents
/// made through the owner forgets the data of that file, found by the
/// identity (device, inode) its open reported, so a write under another name
/// of it (a hard link, a symbolic link, a name it was renamed to) counts too;
/// data of unknown identity goes with any write, and all data with a write
/// through a handle of unknown identity or a truncate or put by name.
/// After data is lost (forgotten, expired, evicted) the window starts small
/// again. At most `budget` bytes are held, the least recently used first to go.
final class ReadAhead: @unchecked Sendable {
    static let firstWindow = 64 << 10
    static let largestWindow = 1 << 20
    static let budget = 16 << 20

    let lifetime: Double

    struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// What is known about reads through one handle.
    private struct Stream {
        var identity: Identity?
        /// Where a read continuing the last one starts (-1: none yet).
        var next: Int64 = -1
        /// The size of the last fetch (0: none yet, or its data was lost).
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

        var holdsData: Bool { !data.isEmpty }
    }

    private var streams: [ServiceHandle: Stream] = [:]
    private var held = 0
    private var clock: UInt64 = 0
    /// Counts forgetting, so that a fetch that raced with it keeps nothing.
    private var generation: UInt64 = 0
    private let lock = Mutex()

    init(lifetime: Double) {
        self.lifetime = lifetime
    }

    func opened(_ handle: ServiceHandle, status: FileStatus?) {
        let identity = status.map { Identity(device: $0.dev, inode: $0.ino) }
        lock.withLock {
            dropData(of: handle)
            streams[handle] = Stream(identity: identity)
        }
    }

    func closed(_ handle: ServiceHandle) {
        lock.withLock {
            dropData(of: handle)
            streams[handle] = nil
            generation += 1
        }
    }

    /// The file open as `handle` was written (or truncated) through it: its
    /// data goes wherever it is held, with all data of unknown identity.
    func written(through handle: ServiceHandle) {
        lock.withLock {
            generation += 1
            guard held > 0 else { return }
            guard let identity = streams[handle]?.identity else {
                dropAll()
                return
            }
            for (other, stream) in streams where stream.holdsData && (stream.identity ?? identity) == identity {
                dropData(of: other)
            }
        }
    }

    /// A change by name whose file is not known here (truncate, put).
    func forgetAll() {
        lock.withLock { dropAll() }
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
        let (kept, ended, continues, lastWindow, startGeneration) = lock.withLock { () -> (Int, Bool, Bool, Int, UInt64) in
            guard var stream = streams[handle] else { return (0, false, false, 0, generation) }
            if stream.holdsData && stream.until <= now { dropData(of: handle) }  // expired
            stream = streams[handle]!
            var done = 0
            var ended = false
            if stream.holdsData, offset >= stream.start, offset <= stream.start + Int64(stream.data.count) {
                let from = Int(offset - stream.start)
                done = min(stream.data.count - from, want)
                if done > 0 {
                    stream.data.withUnsafeBytes { bytes in
                        buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + from, byteCount: done)
                    }
                }
                ended = stream.atEnd
                stream.next = offset + Int64(done)
                clock += 1
                stream.used = clock
            }
            let continues = stream.next == offset || done > 0
            streams[handle] = stream
            return (done, ended, continues, stream.window, generation)
        }
        if ended || kept == want { return kept }  // an end of file is where the data said
        let position = offset + Int64(kept)
        let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[kept...])
        guard continues else { return try passedOn(handle, rest, position, fetch) }
        let window = min(max(Self.firstWindow, lastWindow * 2, want * 4), windowLimit())
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
        let until = Deadline.coarseNow.adding(seconds: lifetime).nanoseconds
        lock.withLock {
            // Closed meanwhile, or a change forgot data while this was fetched: keep nothing.
            guard var stream = streams[handle], generation == startGeneration, count > 0 else { return }
            dropData(of: handle)
            clock += 1
            stream.data = data
            stream.start = position
            stream.atEnd = count < window
            stream.until = until
            stream.window = window
            stream.next = position + Int64(given)
            stream.used = clock
            streams[handle] = stream
            held += count
            evict(sparing: handle)
        }
        return kept + given
    }

    /// Windows shrink when many handles hold data, so that they rarely evict each other.
    private func windowLimit() -> Int {
        let holding = lock.withLock { streams.values.filter { !$0.data.isEmpty }.count }
        return max(Self.firstWindow, min(Self.largestWindow, Self.budget / (holding + 1)))
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

    /// Drops a handle's data (under the lock); its next fetch starts with a small window.
    private func dropData(of handle: ServiceHandle) {
        guard var stream = streams[handle], stream.holdsData || stream.window > 0 else { return }
        held -= stream.data.count
        stream.data = []
        stream.atEnd = false
        stream.window = 0
        streams[handle] = stream
    }

    private func dropAll() {
        for handle in streams.keys { dropData(of: handle) }
        generation += 1
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
