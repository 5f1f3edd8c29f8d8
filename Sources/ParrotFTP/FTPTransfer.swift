#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import ParrotTLS

/// One RETR, STOR, APPE or listing in progress: the control connection it
/// holds, the data connection and how far it got.
final class FTPTransfer: @unchecked Sendable {
    let control: FTPControlConnection
    /// nil once closed.
    var data: NetworkStream?
    let storing: Bool
    var position: Int64

    init(control: FTPControlConnection, data: NetworkStream?, storing: Bool, position: Int64) {
        self.control = control
        self.data = data
        self.storing = storing
        self.position = position
    }
}

enum FTPTransferStart {
    case started(FTPTransfer)
    case refused(FTPReply)
}

extension FTPFileService {
    /// Opens the data connection, sends REST when `offset` > 0, then the
    /// command; TLS on the data connection follows the 1xx reply (RFC 4217).
    func startTransfer(_ command: String, at offset: Int64, on control: FTPControlConnection) throws(ServiceError) -> FTPTransferStart {
        let data = try control.openData { works in pool.learn { $0.epsv = works } }
        if offset > 0 {
            let reply = try control.command("REST \(offset)")
            guard reply.code == 350 else {
                guard reply.code >= 500 else { return .refused(reply) }
                throw ServiceError(errno: ESPIPE, message: "\(server): no restart at an offset (REST: \(reply))")
            }
        }
        let reply = try control.command(command)
        if reply.isCompletion {  // nothing to send (some servers skip the 1xx for empty files)
            return .started(FTPTransfer(control: control, data: nil, storing: command.hasPrefix("STOR") || command.hasPrefix("APPE"), position: offset))
        }
        guard reply.isPreliminary else { return .refused(reply) }
        do throws(ServiceError) {
            try control.secureData(data)
        } catch {
            control.abandon()
            throw error
        }
        return .started(FTPTransfer(control: control, data: data, storing: command.hasPrefix("STOR") || command.hasPrefix("APPE"),
                                    position: offset))
    }

    /// A transfer on a connection of its own (the open file keeps it).
    func startOwnTransfer(_ command: String, at offset: Int64, _ operation: FTPOperation, _ path: String) throws(ServiceError) -> FTPTransfer {
        return try pool.perform(idempotent: true, keeping: true) { (control) throws(ServiceError) -> FTPTransfer in
            switch try startTransfer(command, at: offset, on: control) {
            case .refused(let reply): throw failure(operation, path, reply, on: control)
            case .started(let transfer): return transfer
            }
        }
    }

    /// Ends a transfer that reached its end (or a store that is done): the
    /// server's final reply decides whether it worked.
    /// `release`: the transfer held its own connection, which goes back to the pool.
    func finish(_ transfer: FTPTransfer, operation: FTPOperation, path: String, release: Bool = false) throws(ServiceError) {
        defer { if release { pool.give(transfer.control) } }
        if let data = transfer.data, transfer.storing { data.finish() }
        transfer.data = nil
        let reply = try transfer.control.readReply()
        guard reply.isCompletion else { throw failure(operation, path, reply, on: transfer.control) }
    }

    /// Stops a transfer before its end: the data connection is closed, then
    /// ABOR and NOOP are sent together and replies read up to NOOP's 200, so
    /// it does not matter whether the server answers ABOR with 426 then 226,
    /// with 225 alone, or had already sent the transfer's 226.
    func abort(_ transfer: FTPTransfer) {
        defer { pool.give(transfer.control) }
        transfer.data = nil
        do throws(ServiceError) {
            try transfer.control.send("ABOR")
            try transfer.control.send("NOOP")
            for _ in 0..<4 {
                if try transfer.control.readReply().code == 200 { return }
            }
            transfer.control.abandon()
        } catch {
            transfer.control.abandon()
        }
    }
}
