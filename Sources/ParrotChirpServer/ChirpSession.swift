import Logging
import NIOCore
import NIOPosix

/// What every connection shares: the exported tree, the authenticator, the
/// I/O threads.
struct ChirpServerContext: Sendable {
    let fileSystem: ChirpFileSystem
    let authenticator: ChirpAuthenticator
    let pool: NIOThreadPool
    let logger: Logger
}

/// The connection is unusable (the client left mid-transfer, or a transfer
/// cannot continue): close it, as the reference server does.
struct ChirpConnectionBroken: Error {
    let reason: String
}

/// One authenticated connection: requests, one at a time, each answered
/// before the next is read (the protocol has no pipelining).
struct ChirpSession {
    /// The largest pread or pwrite the reference server performs at once.
    static let maxTransfer = 16 << 20

    let context: ChirpServerContext
    let subject: String
    var inbound: ChirpInbound
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var files = ChirpOpenFiles()

    /// Serves one accepted connection until the client leaves, breaks the
    /// protocol, or stays idle too long.
    static func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, context: ChirpServerContext) async {
        let peer = channel.channel.remoteAddress
        do {
            try await channel.executeThenClose { inbound, outbound in
                var reader = ChirpInbound(inbound)
                guard let subject = try await context.authenticator.negotiate(&reader, outbound, peer: peer) else { return }
                context.logger.debug("authenticated", metadata: ["peer": "\(peer.map { "\($0)" } ?? "?")", "subject": "\(subject)"])
                var session = ChirpSession(context: context, subject: subject, inbound: reader, outbound: outbound)
                defer { session.files.closeAll() }
                try await session.run()
            }
        } catch {
            context.logger.debug("connection closed", metadata: ["peer": "\(peer.map { "\($0)" } ?? "?")", "reason": "\(error)"])
        }
    }

    mutating func run() async throws {
        while let line = try await inbound.line() {
            if line.utf8.first == 0x04 { return }  // EOT ends the session
            guard let request = ChirpRequestLine(line) else { continue }  // empty lines are ignored
            context.logger.trace("request", metadata: ["subject": "\(subject)", "line": "\(line)"])
            try await handle(request)
        }
    }

    func reply(_ reply: ChirpReply) async throws {
        try await outbound.write(reply.encoded(ByteBufferAllocator()))
    }

    /// Runs a blocking operation on the I/O threads; its failure becomes the reply.
    func blocking(_ body: @escaping @Sendable () throws(ChirpFailure) -> ChirpReply) async throws -> ChirpReply {
        try await context.pool.runIfActive { () -> ChirpReply in
            do throws(ChirpFailure) {
                return try body()
            } catch {
                return ChirpReply(error)
            }
        }
    }

    /// Like `blocking`, for operations whose result the session keeps using.
    func blockingResult<T: Sendable>(_ body: @escaping @Sendable () throws(ChirpFailure) -> T) async throws -> Result<T, ChirpFailure> {
        try await context.pool.runIfActive { () -> Result<T, ChirpFailure> in
            do throws(ChirpFailure) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
    }
}
