#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import Synchronization

/// An open remote file: the transfer it streams through, if any.
final class FTPOpenFile: @unchecked Sendable {
    let path: String
    let flags: Int32
    var status: FileStatus
    /// The handle's own offset (read and write; pread and pwrite leave it).
    var offset: Int64 = 0
    var transfer: FTPTransfer?
    /// Where a read found the end (reads there answer 0 without asking).
    var endOfFile: Int64?
    /// Serializes the operations on one handle (a transfer is a sequence).
    let lock = Mutex(())

    init(path: String, flags: Int32, status: FileStatus) {
        self.path = path
        self.flags = flags
        self.status = status
    }

    var appends: Bool { flags & O_APPEND != 0 }
}

struct FTPOpenFiles {
    var files: [Int: FTPOpenFile] = [:]
    var next = 0
}

/// Streaming: a read continues the RETR in progress when it asks for the
/// next bytes; any other offset aborts it and restarts with REST. A write
/// continues the STOR in progress; a write elsewhere is ESPIPE, since FTP
/// stores a file from one point to its end. Opening an existing file for
/// writing without O_TRUNC or O_APPEND may only add at its end (REST
/// SIZE, then STOR): writing inside it is ENOTSUP.
extension FTPFileService {
    public func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> ServiceHandle {
        try openWithStatus(path, flags: flags, mode: mode).0
    }

    public func openWithStatus(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> (ServiceHandle, FileStatus?) {
        let writes = flags & 3 != O_RDONLY
        var found: FTPEntry? = nil
        do throws(ServiceError) {
            found = try pool.perform(idempotent: true) { (connection) throws(ServiceError) in try entry(path, on: connection) }
        } catch where error.errno == ENOENT && flags & O_CREAT != 0 {}
        if let found {
            if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL { throw ServiceError(errno: EEXIST, message: "\(server)\(path): exists") }
            if found.type == S_IFDIR && (writes || flags & O_CREAT != 0) {
                throw ServiceError(errno: EISDIR, message: "\(server)\(path): a directory")
            }
            if writes && !found.isWritable { throw ServiceError(errno: EACCES, message: "\(server)\(path): not writable by this login") }
        }
        var status = found.map { self.status($0, path: path) } ?? status(FTPEntry(name: FTPPath.name(path), type: S_IFREG, size: 0), path: path)
        let file = FTPOpenFile(path: path, flags: flags, status: status)
        if found == nil || (flags & O_TRUNC != 0 && (writes || found?.size != 0)) {
            // Created or emptied now, as the open promises.
            file.transfer = try startOwnTransfer("STOR \(path)", at: 0, .write, path)
            status.size = 0
            file.status = status
            if !writes { try closeTransfer(file) }
        } else if writes && file.appends {
            file.transfer = try startOwnTransfer("APPE \(path)", at: 0, .write, path)
            file.transfer?.position = status.size
        }
        let handle = openFiles.withLock { files in
            files.next += 1
            files.files[files.next] = file
            return files.next
        }
        return (ServiceHandle(rawValue: handle), file.status)
    }

    func file(_ handle: ServiceHandle) throws(ServiceError) -> FTPOpenFile {
        guard let file = openFiles.withLock({ $0.files[handle.rawValue] }) else { throw ServiceError(errno: EBADF) }
        return file
    }

    public func read(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        let file = try file(handle)
        return try file.lock.withLock { (_) throws(ServiceError) -> Int in
            let count = try readLocked(file, into: buffer, at: file.offset)
            file.offset += Int64(count)
            return count
        }
    }

    public func pread(_ handle: ServiceHandle, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        let file = try file(handle)
        return try file.lock.withLock { (_) throws(ServiceError) -> Int in try readLocked(file, into: buffer, at: offset) }
    }

    private func readLocked(_ file: FTPOpenFile, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        guard file.flags & 3 != O_WRONLY else { throw ServiceError(errno: EBADF, message: "opened for writing only") }
        guard offset >= 0 else { throw ServiceError(errno: EINVAL) }
        if file.status.isDirectory { throw ServiceError(errno: EISDIR) }
        if buffer.count == 0 { return 0 }
        if let end = file.endOfFile, offset >= end, file.transfer == nil { return 0 }
        if let current = file.transfer, current.storing || current.position != offset {
            try closeTransfer(file)
        }
        if file.transfer == nil {
            file.transfer = try startOwnTransfer("RETR \(file.path)", at: offset, .read, file.path)
        }
        let transfer = file.transfer!
        let count = try transfer.data?.receiveFully(into: buffer) ?? 0
        transfer.position += Int64(count)
        if count < buffer.count {
            file.transfer = nil
            file.endOfFile = transfer.position
            try finish(transfer, operation: .read, path: file.path, release: true)
        }
        return count
    }

    public func write(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        let file = try file(handle)
        return try file.lock.withLock { (_) throws(ServiceError) -> Int in
            let count = try writeLocked(file, from: buffer, at: file.appends ? file.status.size : file.offset)
            file.offset = file.appends ? file.status.size : file.offset + Int64(count)
            return count
        }
    }

    public func pwrite(_ handle: ServiceHandle, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        let file = try file(handle)
        return try file.lock.withLock { (_) throws(ServiceError) -> Int in try writeLocked(file, from: buffer, at: offset) }
    }

    private func writeLocked(_ file: FTPOpenFile, from buffer: UnsafeRawBufferPointer, at offset: Int64) throws(ServiceError) -> Int {
        guard file.flags & 3 != O_RDONLY else { throw ServiceError(errno: EBADF, message: "opened for reading only") }
        if let current = file.transfer, !current.storing { try closeTransfer(file) }
        if file.transfer == nil {
            // Only the end of an existing file can be added to.
            guard offset <= file.status.size else {
                throw ServiceError(errno: ESPIPE, message: "\(server)\(file.path): FTP stores sequentially (write at \(offset), size \(file.status.size))")
            }
            guard offset == file.status.size else {
                throw ServiceError(errno: ENOTSUP, message: "\(server)\(file.path): FTP cannot overwrite inside a file (write at \(offset), size \(file.status.size))")
            }
            file.transfer = try startOwnTransfer(offset == 0 ? "STOR \(file.path)" : "APPE \(file.path)", at: 0, .write, file.path)
            file.transfer?.position = offset
        }
        let transfer = file.transfer!
        guard file.appends || offset == transfer.position else {
            throw ServiceError(errno: ESPIPE, message: "\(server)\(file.path): FTP stores sequentially (write at \(offset), expected \(transfer.position))")
        }
        guard let data = transfer.data else { throw ServiceError(errno: EIO, message: "\(server)\(file.path): the transfer ended") }
        do throws(ServiceError) {
            try data.sendAll(buffer)
            if transfer.control.hasUnaskedReply { throw ServiceError(errno: EIO, message: "the server ended the store") }
        } catch {
            // The server's reply says why it stopped taking data (452: full).
            file.transfer = nil
            try finish(transfer, operation: .write, path: file.path, release: true)
            throw error
        }
        transfer.position += Int64(buffer.count)
        file.status.size = max(file.status.size, transfer.position)
        file.endOfFile = nil
        return buffer.count
    }

    /// Ends the file's transfer: a store completes (its reply may be an
    /// error: a full disk); a read is aborted.
    func closeTransfer(_ file: FTPOpenFile) throws(ServiceError) {
        guard let transfer = file.transfer else { return }
        file.transfer = nil
        if transfer.storing {
            try finish(transfer, operation: .write, path: file.path, release: true)
            file.status.size = max(file.status.size, transfer.position)
        } else {
            abort(transfer)
        }
    }

    public func fstat(_ handle: ServiceHandle) throws(ServiceError) -> FileStatus {
        let file = try file(handle)
        return file.lock.withLock { _ in file.status }
    }

    public func close(_ handle: ServiceHandle) throws(ServiceError) {
        guard let file = openFiles.withLock({ $0.files.removeValue(forKey: handle.rawValue) }) else { throw ServiceError(errno: EBADF) }
        try file.lock.withLock { (_) throws(ServiceError) in try closeTransfer(file) }
    }

    // MARK: whole files

    /// One RETR into `localPath`, 1 MiB at a time.
    public func getFile(_ path: String, to localPath: String) throws(ServiceError) -> Int64 {
        let transfer = try startOwnTransfer("RETR \(path)", at: 0, .read, path)
        let local: LocalDescriptor
        do throws(ServiceError) {
            local = try LocalDescriptor.open(localPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        } catch {
            abort(transfer)
            throw error
        }
        defer { local.close() }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        do throws(ServiceError) {
            while let data = transfer.data {
                let count = try data.receive(into: chunk)
                if count == 0 { break }
                try local.writeAll(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                transfer.position += Int64(count)
            }
        } catch {
            abort(transfer)
            throw error
        }
        try finish(transfer, operation: .read, path: path, release: true)
        return transfer.position
    }

    /// One STOR of the whole of `localPath`. The server decides the mode of
    /// what it stores; the agent's chmod follows when the program set one.
    public func putFile(_ localPath: String, to path: String, mode: UInt32) throws(ServiceError) -> Int64 {
        let local = try LocalDescriptor.open(localPath, flags: O_RDONLY, mode: 0)
        defer { local.close() }
        let transfer = try startOwnTransfer("STOR \(path)", at: 0, .write, path)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        var failure: ServiceError? = nil
        do throws(ServiceError) {
            while true {
                let count = try local.read(into: chunk)
                if count == 0 { break }
                guard let data = transfer.data else { break }
                try data.sendAll(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                transfer.position += Int64(count)
            }
        } catch {
            failure = error
        }
        // The final reply tells a full disk from a cut connection.
        try finish(transfer, operation: .write, path: path, release: true)
        if let failure { throw failure }
        return transfer.position
    }
}
