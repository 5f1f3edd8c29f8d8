#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// Requests sent ahead of their replies: writes and closes.
///
/// Write-behind: a pwrite on an open file is sent and counted as done, and its
/// reply is read later, before any other request on the connection or when
/// too many are outstanding. The program's next write then overlaps the
/// server's work on the last one, which is what large sequential writes need;
/// a refusal (ENOSPC, EDQUOT, ...) is reported by the file's next write, fsync
/// or close, as NFS does. Replies come in request order, so nothing asked
/// afterwards can see the file without those writes.
///
/// A close goes out once the file's writes are answered, and its own reply is
/// read with the next request's (after that request is sent): it can only say
/// that the server no longer knows the fd, which a program cannot act on, so
/// the round trip is saved.
struct UnansweredRequest {
    /// The file of a write (a close's file is gone already).
    let handle: Int?
    let request: ChirpRequest
    /// Bytes of a write's payload.
    let count: Int
}

extension ChirpConnection {
    /// At most this much is outstanding; a full window waits for the oldest reply.
    static let writeWindow = (requests: 64, bytes: 8 << 20)

    var writeWindowIsFull: Bool {
        unanswered.count >= Self.writeWindow.requests || unansweredBytes >= Self.writeWindow.bytes
    }

    func sendAhead(_ request: ChirpRequest, payload: UnsafeRawBufferPointer, handle: Int) throws(ServiceError) {
        try send(request, payload: payload)
        unanswered.append(UnansweredRequest(handle: handle, request: request, count: payload.count))
        unansweredBytes += payload.count
    }

    /// Whether every reply outstanding is a close's (none at all included).
    var onlyClosesUnanswered: Bool {
        unanswered.allSatisfy { $0.handle == nil }
    }

    /// Reads the replies of the closes sent ahead of the request just sent.
    func answerCloses() throws(ServiceError) {
        while let oldest = unanswered.first, oldest.handle == nil { _ = try answerOldest() }
    }

    func sendCloseAhead(_ fd: Int64) throws(ServiceError) {
        let request = try ChirpRequest.close(fd)
        try send(request, payload: nil)
        unanswered.append(UnansweredRequest(handle: nil, request: request, count: 0))
    }

    /// Reads the oldest outstanding reply: a write's refusal, or nil when the
    /// whole write was done (and for any close). Throws only when the
    /// connection fails.
    func answerOldest() throws(ServiceError) -> ServiceError? {
        let write = unanswered[0]
        var refusal: ServiceError?
        do throws(ServiceError) {
            let written = try result(of: write.request)
            if write.handle != nil, written != Int64(write.count) {
                // A short write to a regular file is a full disk (or a quota,
                // which the next write would name); locally the next write says ENOSPC.
                refusal = ServiceError(errno: ENOSPC, message: "\(write.request): the server wrote \(written) of \(write.count) bytes")
            }
        } catch where !channel.isBroken {
            if write.handle != nil { refusal = error }
        }
        unanswered.removeFirst()
        unansweredBytes -= write.count
        return refusal
    }
}

extension ChirpSession {
    /// Reads the replies of writes sent ahead on the current connection: all
    /// of them, or (`roomOnly`) just enough to send one more. A refusal stays
    /// with its file. If the connection fails meanwhile, the writes still
    /// outstanding are lost, so their files fail with EIO; the connection is
    /// dropped and the caller's request goes to a new one.
    static func settle(_ state: inout ChirpSessionState, roomOnly: Bool = false) {
        guard let connection = state.connection else { return }
        while !connection.unanswered.isEmpty, !roomOnly || connection.writeWindowIsFull {
            let handle = connection.unanswered[0].handle
            do throws(ServiceError) {
                if let refusal = try connection.answerOldest(), let handle {
                    if state.files[handle]?.writeFailure == nil { state.files[handle]?.writeFailure = refusal }
                }
            } catch {
                dropConnection(&state, because: error)
                return
            }
        }
    }

    /// Forgets the current connection; writes still unanswered on it are
    /// lost, so their files fail with EIO.
    static func dropConnection(_ state: inout ChirpSessionState, because error: ServiceError) {
        guard let connection = state.connection else { return }
        for lost in connection.unanswered {
            guard let handle = lost.handle, state.files[handle]?.writeFailure == nil else { continue }
            state.files[handle]?.writeFailure = ServiceError(
                errno: EIO, message: "\(lost.request): connection lost before the server confirmed the write: \(error)")
        }
        connection.unanswered.removeAll()
        connection.unansweredBytes = 0
        state.connection = nil
    }
}
