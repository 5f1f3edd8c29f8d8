#if canImport(Glibc)
import Glibc
#endif

/// Reading an inotify descriptor (non-blocking) to the end of what is queued.
enum InotifyEvents {
    /// Calls `body` with each queued event's watch and mask, until none is left.
    static func drain(_ fd: Int32, _ body: (_ watch: Int32, _ mask: UInt32) -> Void) {
        let size = 8192
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, size)
            if n <= 0 { return }
            var offset = 0
            while offset + 16 <= n {
                let watch = buffer.load(fromByteOffset: offset, as: Int32.self)
                let mask = buffer.load(fromByteOffset: offset + 4, as: UInt32.self)
                offset += 16 + Int(buffer.load(fromByteOffset: offset + 12, as: UInt32.self))
                body(watch, mask)
            }
        }
    }
}
