import CParrotShim
#if canImport(Glibc)
import Glibc
#endif

/// The address space of a stopped tracee, moved in whole buffers with
/// process_vm_readv / process_vm_writev (never word by word).
public struct TraceeMemory {
    public let pid: pid_t
    static let pageSize: UInt64 = 4096
    static let firstChunk = 256

    public init(pid: pid_t) { self.pid = pid }

    public func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { parrot_read_memory(pid, address, $0.baseAddress, count) }
        if n < 0 { throw TracerError(description: "read tracee memory: \(errnoName(Int32(-n)))", errno: Int32(-n)) }
        if n < count { throw TracerError(description: "short read of tracee memory", errno: EFAULT) }
        return buffer
    }

    /// A NUL-terminated string of at most `limit` bytes (EFAULT / ENAMETOOLONG otherwise).
    /// The first read is short (most paths are) and never crosses a page, so a
    /// string near the end of a mapping still works; longer ones continue page by page.
    public func readCString(_ address: UInt64, limit: Int = 4096) throws -> [UInt8] {
        if address == 0 { throw TracerError(description: "null string pointer", errno: EFAULT) }
        var result: [UInt8] = []
        var cursor = address
        var chunk = min(Int(Self.pageSize - address % Self.pageSize), Self.firstChunk)
        while result.count <= limit {
            let found: Bool = try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunk) { buffer in
                let n = parrot_read_memory(pid, cursor, buffer.baseAddress, chunk)
                if n <= 0 { throw TracerError(description: "read tracee string", errno: EFAULT) }
                let bytes = UnsafeBufferPointer(rebasing: buffer[0..<n])
                if let end = bytes.firstIndex(of: 0) {
                    result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<end]))
                    return true
                }
                result.append(contentsOf: bytes)
                cursor += UInt64(n)
                return false
            }
            if found { return result }
            chunk = Int(Self.pageSize - cursor % Self.pageSize)
        }
        throw TracerError(description: "string longer than \(limit) bytes", errno: ENAMETOOLONG)
    }

    public func write(_ bytes: [UInt8], to address: UInt64) throws {
        let n = bytes.withUnsafeBytes { parrot_write_memory(pid, address, $0.baseAddress, bytes.count) }
        if n < 0 { throw TracerError(description: "write tracee memory: \(errnoName(Int32(-n)))", errno: Int32(-n)) }
        if n < bytes.count { throw TracerError(description: "short write to tracee memory", errno: EFAULT) }
    }

    /// Runs `body` on a string that ends within the first chunk, read into a
    /// stack buffer (no allocation: for the quick look at every path). nil when
    /// unreadable or longer. Not generic: across modules a generic result type
    /// is looked up by the runtime on every call, and this runs on most stops.
    public func peekCString(_ address: UInt64, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool? {
        guard address != 0 else { return nil }
        let chunk = min(Int(Self.pageSize - address % Self.pageSize), Self.firstChunk)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.firstChunk) { buffer -> Bool? in
            let n = parrot_read_memory(pid, address, buffer.baseAddress, chunk)
            guard n > 0, let end = UnsafeBufferPointer(rebasing: buffer[0..<n]).firstIndex(of: 0) else { return nil }
            return body(UnsafeBufferPointer(rebasing: buffer[0..<end]))
        }
    }

    /// Fills `buffer` from `address` (EFAULT unless all of it is readable).
    public func read(into buffer: UnsafeMutableRawBufferPointer, from address: UInt64) throws {
        guard buffer.count > 0 else { return }
        let n = parrot_read_memory(pid, address, buffer.baseAddress, buffer.count)
        if n < buffer.count { throw TracerError(description: "read tracee memory", errno: EFAULT) }
    }

    /// Writes all of `buffer` at `address` (EFAULT unless all of it is writable).
    public func write(_ buffer: UnsafeRawBufferPointer, to address: UInt64) throws {
        guard buffer.count > 0 else { return }
        let n = parrot_write_memory(pid, address, buffer.baseAddress, buffer.count)
        if n < buffer.count { throw TracerError(description: "write tracee memory", errno: EFAULT) }
    }
}
