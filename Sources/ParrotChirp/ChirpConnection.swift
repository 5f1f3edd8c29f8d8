#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// One authenticated session: requests go out one at a time and each reply,
/// with its payload, is consumed before the next request, except writes sent
/// ahead (ChirpSentAhead.swift), whose replies are read before anything else.
final class ChirpConnection {
    let channel: ChirpChannel
    let subject: String
    /// Which connection of the service this is: remote fds belong to one.
    let generation: Int
    /// pwrites and closes sent without waiting for their replies, oldest first.
    var unanswered: [UnansweredRequest] = []
    var unansweredBytes = 0

    init(host: String, port: UInt16, options: ChirpOptions, generation: Int) throws(ServiceError) {
        let fd = try TCPSocket.connect(host: host, port: port, deadline: .after(seconds: options.connectTimeout),
                                       stallTimeout: options.stallTimeout, label: "chirp")
        channel = ChirpChannel(fd: fd, stallTimeout: options.stallTimeout)
        subject = try ChirpAuthentication.negotiate(channel, methods: options.authMethods)
        self.generation = generation
    }

    /// Sends `request` (and a payload that follows without a go-ahead) and
    /// returns the result; a negative result is thrown as its errno. Replies
    /// of closes sent ahead come first.
    @discardableResult
    func call(_ request: ChirpRequest, payload: UnsafeRawBufferPointer? = nil) throws(ServiceError) -> Int64 {
        try send(request, payload: payload)
        try answerCloses()
        return try result(of: request)
    }

    /// The request line and its payload, in one send.
    func send(_ request: ChirpRequest, payload: UnsafeRawBufferPointer?) throws(ServiceError) {
        var failure: ServiceError?
        var text = request.text
        text.withUTF8 { raw in
            do throws(ServiceError) { try channel.send(UnsafeRawBufferPointer(raw), then: payload) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads a result line (after a request, or after a putfile's data).
    func result(of request: ChirpRequest) throws(ServiceError) -> Int64 {
        let value = try channel.withLine { ChirpReplyParsing.integer($0) }
        guard let value else { throw channel.fail(EPROTO, "\(request): malformed result") }
        if value < 0 { throw ChirpErrorCode(result: value).error(request.line) }
        return value
    }

    /// Parsed in place, into 13 numbers on the stack: a stat line follows
    /// every stat and open.
    func readStatus() throws(ServiceError) -> FileStatus {
        let status = try channel.withLine { line in
            withUnsafeTemporaryAllocation(of: Int64.self, capacity: 13) { values -> FileStatus? in
                var count = 0
                guard ChirpReplyParsing.scan(line, count: 13, { values[count] = $0; count += 1 }) else { return nil }
                return ChirpReplyParsing.status(UnsafeBufferPointer(values))
            }
        }
        guard let status else { throw channel.fail(EPROTO, "malformed stat line") }
        return status
    }

    func readFileSystemStatus() throws(ServiceError) -> FileSystemStatus {
        let values = try channel.withLine { ChirpReplyParsing.integers($0, count: 7) }
        guard let values else { throw channel.fail(EPROTO, "malformed statfs line") }
        return ChirpReplyParsing.fileSystemStatus(values)
    }

    /// A reply of `N` followed by N raw bytes.
    func callForBytes(_ request: ChirpRequest, limit: Int) throws(ServiceError) -> [UInt8] {
        let count = try call(request)
        guard count <= limit else { throw channel.fail(EPROTO, "\(request): \(count) bytes announced, at most \(limit) expected") }
        return try channel.readBytes(Int(count))
    }

    /// The open reply is the fd and the file's stat line.
    func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (fd: Int64, status: FileStatus) {
        let fd = try call(.open(path, flags: ChirpOpenFlags.letters(flags), mode: mode))
        return (fd, try readStatus())
    }

    /// One pread of at most `destination.count` bytes (the caller keeps it at
    /// or below the server's 16 MiB); 0 at end of file.
    func pread(_ fd: Int64, into destination: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        let request = try ChirpRequest.pread(fd, length: destination.count, offset: offset)
        let count = try call(request)
        guard count <= destination.count else { throw channel.fail(EPROTO, "\(request): \(count) bytes announced") }
        try channel.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: destination[..<Int(count)]))
        return Int(count)
    }
}
