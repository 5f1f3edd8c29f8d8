import CChirpServerShim
#if canImport(Glibc)
import Glibc
#endif

/// The text forms of replies and of open flags (protocols/chirp.md §5, §6.1).
enum ChirpWireFormat {
    /// `dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime`
    static func statLine(_ st: stat) -> String {
        [Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino)), Int64(st.st_mode),
         Int64(st.st_nlink), Int64(st.st_uid), Int64(st.st_gid), Int64(bitPattern: UInt64(st.st_rdev)),
         Int64(st.st_size), Int64(st.st_blksize), Int64(st.st_blocks),
         Int64(st.st_atim.tv_sec), Int64(st.st_mtim.tv_sec), Int64(st.st_ctim.tv_sec)]
            .map(String.init).joined(separator: " ")
    }

    /// `type bsize blocks bfree bavail files ffree`: the wire order, which is
    /// neither the struct's nor the old documentation's.
    static func statfsLine(_ st: statfs) -> String {
        [Int64(st.f_type), Int64(st.f_bsize), Int64(st.f_blocks), Int64(st.f_bfree),
         Int64(st.f_bavail), Int64(st.f_files), Int64(st.f_ffree)]
            .map(String.init).joined(separator: " ")
    }

    /// `r`, `w`, `rw` and the modifiers `c t a x s`, in any order, as open(2)
    /// flags. Unknown letters are ignored, as the reference server does.
    static func openFlags(_ letters: Substring) -> Int32 {
        let read = letters.contains("r"), write = letters.contains("w")
        var flags: Int32 = read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY
        if letters.contains("c") { flags |= O_CREAT }
        if letters.contains("t") { flags |= O_TRUNC }
        if letters.contains("a") { flags |= O_APPEND }
        if letters.contains("x") { flags |= O_EXCL }
        if letters.contains("s") { flags |= O_SYNC }
        return flags
    }
}
