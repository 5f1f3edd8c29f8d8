#if canImport(Glibc)
import Glibc
#endif

/// A local file descriptor with the EINTR and short-count loops done once.
public struct LocalDescriptor: Sendable {
    public let fd: Int32
    let path: String

    public static func open(_ path: String, flags: Int32, mode: UInt32) throws(ServiceError) -> LocalDescriptor {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return LocalDescriptor(fd: fd, path: path) }
            if errno != EINTR { throw .posix("open", path) }
        }
    }

    /// A new empty file `directory/prefix.XXXXXX` (mkstemp), closed; its path.
    public static func makeTemporary(in directory: String, prefix: String) throws(ServiceError) -> String {
        var template = Array((directory + "/" + prefix + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .posix("mkstemp", directory) }
        Glibc.close(fd)
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// One read(2); 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw .posix("read", path) }
        }
    }

    /// Everything from the current offset to the end.
    public func readAll() throws(ServiceError) -> [UInt8] {
        var result: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count = try read(into: chunk)
            if count == 0 { return result }
            result += chunk[..<count]
        }
    }

    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws(ServiceError) {
        var done = 0
        while done < buffer.count {
            let count = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                throw .posix("write", path)
            }
            done += count
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(ServiceError) {
        var failure: ServiceError?
        bytes.withUnsafeBytes { raw in
            do throws(ServiceError) { try writeAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func status() throws(ServiceError) -> FileStatus {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw .posix("fstat", path) }
        return FileStatus(st)
    }

    public func close() {
        _ = Glibc.close(fd)
    }
}
