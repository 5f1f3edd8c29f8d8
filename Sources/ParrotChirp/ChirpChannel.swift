#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// The byte stream of one connection: lines and exact-length blocks, each wait
/// bounded by the stall timeout. Any transport failure closes the channel for
/// good (`isBroken`); the stream cannot be trusted to be in step after it.
final class ChirpChannel {
    private var fd: Int32
    private let stallTimeout: Double
    /// Received and not yet consumed: `storage[start..<end]`. Its size bounds
    /// a reply line, far above any a server sends (names are at most NAME_MAX).
    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private var start = 0
    private var end = 0
    private(set) var isBroken = false

    init(fd: Int32, stallTimeout: Double) {
        self.fd = fd
        self.stallTimeout = stallTimeout
    }

    deinit {
        close()
        storage.deallocate()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        isBroken = true
    }

    /// Marks the stream unusable and returns the error to throw.
    func fail(_ errno: Int32, _ message: String) -> ServiceError {
        close()
        return ServiceError(errno: errno, message: "chirp connection: \(message)")
    }

    private func failPosix(_ call: String) -> ServiceError {
        let code = errno
        return fail(code, "\(call): \(String(cString: strerror(code)))")
    }

    /// True when the server has closed its side (idle timeout, restart) or sent
    /// something unasked: checked before a request, so that one that must not
    /// be repeated is never sent on a dead connection.
    var isStale: Bool {
        if isBroken || start < end { return true }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) != 0
    }

    /// Read from the socket but not yet taken: with no reply awaited, the
    /// stream is out of step.
    var hasBufferedBytes: Bool { start < end }

    /// When a reply last arrived.
    private(set) var lastReply = Deadline.coarseNow

    /// When a request last went out.
    private(set) var lastSend = Deadline.coarseNow

    /// Nothing went either way for a second: a server may have closed it as
    /// idle since (servers wait a minute), which only a look can tell.
    var isQuiet: Bool {
        Deadline.coarseNow.nanoseconds - max(lastReply.nanoseconds, lastSend.nanoseconds) > 1_000_000_000
    }

    /// Recently answered: a server that closes idle connections has not done
    /// so to this one (it would take a stall far longer than this).
    var isFresh: Bool { !isBroken && start == end && Deadline.coarseNow.nanoseconds - lastReply.nanoseconds < 500_000_000 }

    func send(_ bytes: [UInt8]) throws(ServiceError) {
        var failure: ServiceError?
        bytes.withUnsafeBytes { raw in
            do throws(ServiceError) { try send(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws(ServiceError) {
        try send(bytes, then: nil)
    }

    /// Sends `head` and then `body` as one stream write (a request line and
    /// its payload in one segment: the server wakes once, not twice).
    func send(_ head: UnsafeRawBufferPointer, then body: UnsafeRawBufferPointer?) throws(ServiceError) {
        guard !isBroken else { throw fail(ECONNRESET, "closed") }
        // Two vectors on the stack (this runs on every request).
        var head = head
        var body = body ?? UnsafeRawBufferPointer(start: nil, count: 0)
        var vectors = (iovec(), iovec())
        while head.count + body.count > 0 {
            vectors = (iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count))
            let count = withUnsafeMutableBytes(of: &vectors) { raw -> Int in
                let list = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                var message = msghdr()
                message.msg_iov = head.count > 0 ? list : list + 1
                message.msg_iovlen = head.count > 0 ? 2 : 1
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            }
            if count >= 0 {
                let fromHead = min(count, head.count)
                head = UnsafeRawBufferPointer(rebasing: head[fromHead...])
                body = UnsafeRawBufferPointer(rebasing: body[(count - fromHead)...])
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw fail(ETIMEDOUT, "no progress for \(stallTimeout) s")
            } else if errno != EINTR {
                throw failPosix("send")
            }
        }
        lastSend = Deadline.coarseNow
    }

    /// Sends up to `count` bytes of the local file `source` from its offset
    /// straight from the page cache (sendfile: no copy through this process).
    /// Returns how many went, 0 at the file's end, nil when the file cannot
    /// be sent this way (the caller reads it instead); the socket's failures
    /// are thrown and break the channel, as `send`'s are.
    func sendFile(_ source: Int32, count: Int) throws(ServiceError) -> Int? {
        guard !isBroken else { throw fail(ECONNRESET, "closed") }
        while true {
            let sent = Glibc.sendfile(fd, source, nil, count)
            if sent >= 0 {
                lastSend = Deadline.coarseNow
                return sent
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: throw fail(ETIMEDOUT, "no progress for \(stallTimeout) s")
            case EPIPE, ECONNRESET, ENOTCONN, ETIMEDOUT: throw failPosix("sendfile")
            default: return nil  // the file's side (EIO, EINVAL for a file sendfile cannot read)
            }
        }
    }

    func readLine() throws(ServiceError) -> String {
        var scanned = 0  // bytes after `start` known to hold no newline (fill() moves `start`)
        while true {
            let pending = UnsafeRawBufferPointer(rebasing: storage[(start + scanned)..<end])
            if let index = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let newline = start + scanned + index
                let line = String(decoding: UnsafeRawBufferPointer(rebasing: storage[start..<newline]), as: UTF8.self)
                start = newline + 1
                return line
            }
            scanned = end - start
            try fill()
        }
    }

    /// Reads exactly `destination.count` bytes: buffered ones first, the rest
    /// straight from the socket.
    func readExactly(into destination: UnsafeMutableRawBufferPointer) throws(ServiceError) {
        let buffered = min(end - start, destination.count)
        if buffered > 0 {
            destination.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: buffered)
            start += buffered
        }
        var done = buffered
        while done < destination.count {
            done += try receive(into: UnsafeMutableRawBufferPointer(rebasing: destination[done...]))
        }
    }

    func readBytes(_ count: Int) throws(ServiceError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: ServiceError?
        bytes.withUnsafeMutableBytes { raw in
            do throws(ServiceError) { try readExactly(into: raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Moves the unread bytes to the front and receives more after them.
    private func fill() throws(ServiceError) {
        if start > 0 {
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        guard end < storage.count else { throw fail(EPROTO, "reply line longer than \(storage.count) bytes") }
        end += try receive(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]))
    }

    /// At least one byte; end of stream is a broken connection.
    private func receive(into destination: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        guard !isBroken else { throw fail(ECONNRESET, "closed") }
        // A blocking socket with SO_RCVTIMEO (see ChirpSocket): one call per
        // reply, and EAGAIN means the server stalled.
        while true {
            let count = recv(fd, destination.baseAddress, destination.count, 0)
            if count > 0 {
                lastReply = Deadline.coarseNow
                return count
            }
            if count == 0 { throw fail(ECONNRESET, "the server closed the connection") }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw fail(ETIMEDOUT, "no progress for \(stallTimeout) s")
            } else if errno != EINTR {
                throw failPosix("recv")
            }
        }
    }

    /// Reads a line and hands its bytes (without the newline) to `body`,
    /// without making a String: reply lines are mostly numbers.
    func withLine<T>(_ body: (UnsafeRawBufferPointer) -> T) throws(ServiceError) -> T {
        var scanned = 0
        while true {
            let pending = UnsafeRawBufferPointer(rebasing: storage[(start + scanned)..<end])
            if let index = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let newline = start + scanned + index
                let result = body(UnsafeRawBufferPointer(rebasing: storage[start..<newline]))
                start = newline + 1
                return result
            }
            scanned = end - start
            try fill()
        }
    }
}
