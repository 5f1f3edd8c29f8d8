/// FNV-1a of a name: stable device and inode numbers for services whose
/// protocol has none (HTTP, FTP).
public enum NameHash {
    public static func of(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash | 1
    }
}
