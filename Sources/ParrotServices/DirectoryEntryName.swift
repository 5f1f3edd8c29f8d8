#if canImport(Glibc)
import Glibc
#endif

/// The name in a `readdir` record, read in place. Copying `d_name` out of
/// the record (`entry.pointee.d_name`) reads all 256 bytes of the field, past
/// the end of a short record, which at the end of the directory buffer can be
/// the end of the mapping: a crash found in the cache's eviction.
public func directoryEntryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}
