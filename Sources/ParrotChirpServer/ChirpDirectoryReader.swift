#if canImport(Glibc)
import Glibc
#endif

/// Directory listings: names from readdir, and getdir/getlongdir replies.
enum ChirpDirectoryReader {
    /// Every name in the directory `fd` except `.` and `..`. Leaves `fd` open.
    static func names(_ fd: Int32) throws(ChirpFailure) -> [String] {
        try entries(fd).filter { $0 != "." && $0 != ".." }
    }

    /// Every name, `.` and `..` included, in readdir order. A listing
    /// (`listable`) leaves out names that are not UTF-8 (this server's paths
    /// are text: such a file cannot be named in a request either) or hold a
    /// line break (listings are lines: the client would take the rest for the
    /// next entry); removals see them, so that a directory holding one is
    /// not taken for empty.
    static func entries(_ fd: Int32, listable: Bool = false) throws(ChirpFailure) -> [String] {
        let copy = try posixCall { dup(fd) }
        guard let stream = fdopendir(copy) else { close(copy); throw ChirpFailure.last }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            // Read in place: copying d_name out reads past a short record.
            let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let bytes = (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self)
            guard listable else {
                names.append(String(cString: bytes))
                continue
            }
            guard let name = String(validatingCString: bytes), !name.contains("\n") else { continue }
            names.append(name)
        }
        return names
    }
}

extension ChirpFileSystem {
    /// Names, one a line, then an empty line. The server's `.__` files are hidden.
    func getdir(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.list, subject, in: path)
        let names = try root.with(path, flags: O_RDONLY | O_DIRECTORY) { (fd) throws(ChirpFailure) in
            try ChirpDirectoryReader.entries(fd, listable: true)
        }
        return ChirpReply(lines: names.filter { !$0.hasPrefix(".__") } + [""])
    }

    /// Pairs of lines, name then its lstat line, then an empty line. The root's
    /// `..` is described as the root itself: what lies above is not exported.
    func getlongdir(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.list, subject, in: path)
        let lines = try root.with(path, flags: O_RDONLY | O_DIRECTORY) { (fd) throws(ChirpFailure) -> [String] in
            var lines: [String] = []
            for name in try ChirpDirectoryReader.entries(fd, listable: true) where !name.hasPrefix(".__") {
                var st = Glibc.stat()
                let target = path.isRoot && name == ".." ? "." : name
                guard fstatat(fd, target, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }  // gone meanwhile
                lines += [name, ChirpWireFormat.statLine(st)]
            }
            return lines
        }
        return ChirpReply(lines: lines + [""])
    }
}
