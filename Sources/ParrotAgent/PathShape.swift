import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel answers from a path's spelling, which the lexical
/// normalization of remote paths would lose: a trailing slash asks for a
/// directory (`stat("file/")` is ENOTDIR), and `rmdir("dir/.")` is EINVAL.
extension Agent {
    /// Calls that create their last component: for mkdir a trailing slash
    /// names the directory to be; the others are judged apart.
    static let creatingCalls: Set<String> = [
        "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat", "mknod", "mknodat",
    ]

    /// rmdir, unlink or rename of a name whose last component is `.` or `..`
    /// (trailing slashes aside): the kernel refuses those, and the lexical
    /// normalization of a translated path would name the directory itself
    /// (`rmdir e/.` removing e, `mv d/sub/.. n` moving d).
    func dotEntryRefusal(_ stop: SyscallStop, _ raw: [UInt8]) -> Int32? {
        guard let last = raw.split(separator: UInt8(ascii: "/")).last, last.allSatisfy({ $0 == UInt8(ascii: ".") }),
              last.count <= 2, let name = policy.name(of: stop.number) else { return nil }
        if name == "rmdir" || (name == "unlinkat" && stop.args[2] & 0x200 != 0) { return last.count == 1 ? EINVAL : ENOTEMPTY }
        return name.hasPrefix("unlink") ? EISDIR : EBUSY
    }

    /// Whether the last component, trailing slashes aside, is `.` after another (`X/.`, `X/./`).
    static func endsInDot(_ raw: [UInt8]) -> Bool {
        let trimmed = raw.reversed().drop { $0 == UInt8(ascii: "/") }.reversed()
        return trimmed.count > 1 && trimmed.suffix(2).elementsEqual("/.".utf8)
    }

    /// Whether the spelling asks for a directory, following a last link to
    /// it: a trailing slash, or `X/.`.
    static func asksForDirectory(_ raw: [UInt8]) -> Bool {
        raw.last == UInt8(ascii: "/") || endsInDot(raw)
    }

    /// ENOENT or ENOTDIR when `path` (the program's view) names no directory.
    func directoryRefusal(_ path: String) -> Int32? {
        switch resolver.resolve(path, followFinal: true) {
        case .failed(let errno): return errno
        case .resolved(let resolution):
            if let remote = resolution.remote {
                do throws(ServiceError) {
                    return try services.driver(for: remote).stat(remote.path).isDirectory ? nil : ENOTDIR
                } catch {
                    return error.errno
                }
            }
            var status = stat()
            guard fstatat(AT_FDCWD, resolution.hostPath, &status, 0) == 0 else { return errno }
            return status.st_mode & S_IFMT == S_IFDIR ? nil : ENOTDIR
        }
    }

    /// The errno the path's spelling calls for, if any, before the server is asked.
    func shapeRefusal(_ name: String, _ stop: SyscallStop, _ list: [ResolvedArgument]) throws -> Int32? {
        guard let first = list.first, let location = first.resolution.remote, !first.original.isEmpty,
              !location.isServiceRoot else { return nil }
        let slash = UInt8(ascii: "/")
        // (`rmdir dir/.` and the like were refused with the path: dotEntryRefusal.)
        let removesDirectory = name == "rmdir" || (name == "unlinkat" && stop.args[2] & 0x200 != 0)
        // A link's new name is its second.
        let named = name.hasPrefix("link") && list.count > 1 ? list[1] : first
        if Self.endsInDot(named.original), let place = named.resolution.remote {
            // `X/.` names the directory X leads to, which must be there: nothing
            // is made in its stead (rmdir, unlink, rename: answered before this).
            let status: FileStatus
            do throws(ServiceError) { status = try services.driver(for: place).stat(place.path) } catch {
                return error.errno
            }
            guard status.isDirectory else { return ENOTDIR }
            if Self.creatingCalls.contains(name) { return EEXIST }
            if Self.openCalls.contains(name), try openFlags(name, stop) & O_CREAT != 0 { return EISDIR }
            return name.hasPrefix("readlink") ? EINVAL : nil
        }
        // Nothing else to judge without a slash at the end of either name (nearly every call).
        guard first.original.last == slash || (list.count > 1 && list[1].original.last == slash) else { return nil }
        let service = try? services.driver(for: location)
        // Names the call acts on itself, never through a last link: a slash
        // after one asks for a directory there.
        if name.hasPrefix("rename") || name == "unlink" || (name == "unlinkat" && !removesDirectory) {
            let targetSlash = list.count > 1 && list[1].original.last == slash
            guard first.original.last == slash || targetSlash, let status = try? service?.lstat(location.path) else { return nil }
            if status.isDirectory { return name.hasPrefix("rename") ? nil : EISDIR }
            return ENOTDIR
        }
        // A new name other than a directory's cannot end in a slash.
        if ["symlink", "symlinkat", "mknod", "mknodat", "link", "linkat"].contains(name) {
            let made = name.hasPrefix("link") ? list.count > 1 ? list[1] : first : first
            if name.hasPrefix("link") && first.original.last == slash { return ENOTDIR }
            guard made.original.last == slash, let place = made.resolution.remote else { return nil }
            return (try? service?.lstat(place.path)) != nil ? EEXIST : ENOENT
        }
        guard first.original.last == slash, !Self.creatingCalls.contains(name) else { return nil }
        if Self.openCalls.contains(name), try openFlags(name, stop) & O_CREAT != 0 {
            // Under a directory that is there, a name with a slash cannot be made
            // a file; else the server says ENOENT or ENOTDIR for the parent.
            return (try? service?.stat(AttributeCache.parent(of: location.path)))?.isDirectory == true ? EISDIR : nil
        }
        guard let status = try? service?.stat(location.path) else { return nil }
        // readlink of "link/" reads the directory it leads to: no link.
        if status.isDirectory && name.hasPrefix("readlink") { return EINVAL }
        return status.isDirectory ? nil : ENOTDIR
    }
}
