import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Opening files and the calls on open descriptors.
extension ChirpFileSystem {
    /// The rights `open` needs for its flags; the `p` right alone allows
    /// creating a file that does not exist yet (protocols/chirp.md §6.1).
    /// A directory may be opened read-only, with `l`. Returns the kernel
    /// descriptor and the reply's stat line.
    func open(_ path: ChirpServerPath, letters: Substring, mode: Int64, _ subject: String) throws(ChirpFailure) -> (Int32, String) {
        var flags = ChirpWireFormat.openFlags(letters)
        if root.isDirectory(path) {
            guard flags == O_RDONLY else { throw ChirpFailure(EISDIR) }
            try access.require(.list, subject, in: path)
            let fd = try root.open(path, flags: O_RDONLY | O_DIRECTORY)
            return (fd, ChirpWireFormat.statLine(try ChirpRoot.status(fd)))
        }
        let directory = access.governingDirectory(path, follow: true)
        if try !access.has(ChirpFileSystem.rights(forOpen: flags), subject, in: directory) {
            guard try access.has(.put, subject, in: directory) else { throw ChirpFailure(EACCES) }
            guard flags & O_CREAT != 0 else { throw ChirpFailure(EACCES) }
            guard root.existingStatus(path) == nil else { throw ChirpFailure(EEXIST) }
            flags |= O_EXCL
        }
        let fd = try openRegularFile(path, flags: flags, mode: ChirpFileSystem.permissions(mode))
        return (fd, ChirpWireFormat.statLine(try ChirpRoot.status(fd)))
    }

    /// As the reference server: writing, creating, truncating or appending need
    /// `w`, reading needs `r`.
    static func rights(forOpen flags: Int32) -> ChirpRights {
        var rights = ChirpRights()
        switch flags & O_ACCMODE {
        case O_WRONLY: rights.insert(.write)
        case O_RDWR: rights.formUnion([.read, .write])
        default: break
        }
        if flags & (O_CREAT | O_TRUNC | O_APPEND) != 0 { rights.insert(.write) }
        return rights.isEmpty ? .read : rights
    }

    /// At most `length` bytes (the caller caps it) at `offset`; empty at the end.
    static func pread(_ fd: Int32, length: Int, offset: Int64, allocator: ByteBufferAllocator) throws(ChirpFailure) -> ByteBuffer {
        guard length >= 0, offset >= 0 else { throw ChirpFailure(EINVAL) }
        var buffer = allocator.buffer(capacity: length)
        var failure: ChirpFailure?
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            do throws(ChirpFailure) {
                return try posixCall { Glibc.pread(fd, raw.baseAddress, length, off_t(offset)) }
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return buffer
    }

    /// Writes all of `bytes` at `offset` (O_APPEND descriptors append instead).
    static func pwrite(_ fd: Int32, _ bytes: ByteBuffer, offset: Int64) throws(ChirpFailure) {
        var done = 0
        var failure: ChirpFailure?
        bytes.withUnsafeReadableBytes { raw in
            while done < raw.count, failure == nil {
                do throws(ChirpFailure) {
                    done += try posixCall { Glibc.pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done)) }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
    }

    static func fstat(_ fd: Int32) throws(ChirpFailure) -> ChirpReply {
        ChirpReply(lines: [ChirpWireFormat.statLine(try ChirpRoot.status(fd))])
    }

    static func fstatfs(_ fd: Int32) throws(ChirpFailure) -> ChirpReply {
        ChirpReply(lines: [ChirpWireFormat.statfsLine(try ChirpRoot.fileSystemStatus(fd))])
    }
}
