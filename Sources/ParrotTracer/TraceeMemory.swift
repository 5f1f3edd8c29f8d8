import CParrotShim
#if canImport(Glibc)
import Glibc
#endif

/// The address space of a stopped tracee, moved in whole buffers with
/// process_vm_readv / process_vm_writev (never word by word).
public struct TraceeMemory {
    public let pid: pid_t
    static let pageSize: UInt64 = 4096

    public init(pid: pid_t) { self.pid = pid }

    public func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { parrot_read_memory(pid, address, $0.baseAddress, count) }
        if n < 0 { throw TracerError(description: "read tracee memory: \(errnoName(Int32(-n)))", errno: Int32(-n)) }
        if n < count { throw TracerError(description: "short read of tracee memory", errno: EFAULT) }
        return buffer
    }

    /// A NUL-terminated string of at most `limit` bytes (EFAULT / ENAMETOOLONG otherwise).
    /// Reads page by page so that a string near the end of a mapping still works.
    public func readCString(_ address: UInt64, limit: Int = 4096) throws -> [UInt8] {
        if address == 0 { throw TracerError(description: "null string pointer", errno: EFAULT) }
        var result: [UInt8] = []
        var cursor = address
        while result.count <= limit {
            let chunk = Int(Self.pageSize - cursor % Self.pageSize)
            var buffer = [UInt8](repeating: 0, count: chunk)
            let n = buffer.withUnsafeMutableBytes { parrot_read_memory(pid, cursor, $0.baseAddress, chunk) }
            if n <= 0 { throw TracerError(description: "read tracee string", errno: EFAULT) }
            if let end = buffer[0..<n].firstIndex(of: 0) {
                result.append(contentsOf: buffer[0..<end])
                return result
            }
            result.append(contentsOf: buffer[0..<n])
            cursor += UInt64(n)
        }
        throw TracerError(description: "string longer than \(limit) bytes", errno: ENAMETOOLONG)
    }

    public func write(_ bytes: [UInt8], to address: UInt64) throws {
        let n = bytes.withUnsafeBytes { parrot_write_memory(pid, address, $0.baseAddress, bytes.count) }
        if n < 0 { throw TracerError(description: "write tracee memory: \(errnoName(Int32(-n)))", errno: Int32(-n)) }
        if n < bytes.count { throw TracerError(description: "short write to tracee memory", errno: EFAULT) }
    }
}
