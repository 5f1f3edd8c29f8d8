#if canImport(Glibc)
import Glibc
#endif

/// POSIX open flags as the letter string of the `open` request.
enum ChirpOpenFlags {
    static func letters(_ flags: Int32) -> String {
        var letters: String
        switch flags & O_ACCMODE {
        case O_WRONLY: letters = "w"
        case O_RDWR: letters = "rw"
        default: letters = "r"
        }
        if flags & O_CREAT != 0 { letters += "c" }
        if flags & O_TRUNC != 0 { letters += "t" }
        if flags & O_APPEND != 0 { letters += "a" }
        if flags & O_EXCL != 0 { letters += "x" }
        if flags & O_SYNC == O_SYNC { letters += "s" }
        return letters
    }

    /// The flags to open a file again after a reconnect: never create,
    /// truncate or demand exclusivity a second time.
    static func reopening(_ flags: Int32) -> Int32 {
        flags & ~(O_CREAT | O_TRUNC | O_EXCL)
    }
}
