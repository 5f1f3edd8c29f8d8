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
    /// Calls that create their last component: a trailing slash names the
    /// directory to be (mkdir) or is the server's to judge.
    static let creatingCalls: Set<String> = [
        "mkdir", "mkdirat", "symlink", "symlinkat", "link", "linkat", "mknod", "mknodat",
    ]

    /// The errno the path's spelling calls for, if any, before the server is asked.
    func shapeRefusal(_ name: String, _ stop: SyscallStop, _ list: [ResolvedArgument]) -> Int32? {
        guard let first = list.first, let location = first.resolution.remote, !first.original.isEmpty else { return nil }
        let removesDirectory = name == "rmdir" || (name == "unlinkat" && stop.args[2] & 0x200 != 0)
        if removesDirectory && (first.original == [UInt8(ascii: ".")] || first.original.suffix(2) == Array("/.".utf8)) {
            return EINVAL
        }
        guard first.original.last == UInt8(ascii: "/"), !Self.creatingCalls.contains(name), !location.isServiceRoot,
              let status = try? services.driver(for: location).stat(location.path) else { return nil }
        return status.isDirectory ? nil : ENOTDIR
    }
}
