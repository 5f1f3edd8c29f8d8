#if canImport(Glibc)
import Glibc
#endif

/// Who may do what where (protocols/chirp.md §9). Rights belong to
/// directories: a file's are those of the directory holding it.
struct ChirpAccessControl: Sendable {
    static let fileName = ".__acl"

    let root: ChirpRoot
    /// The ACL of directories with none of their own (nil: no rights there).
    let defaultACL: ChirpACL?
    let inherit: Bool
    let readOnly: Bool

    /// The ACL in force for `directory`: its own file; else, when inheriting,
    /// the nearest ancestor's; else the default. nil: nobody has any right.
    func effectiveACL(_ directory: ChirpServerPath) throws(ChirpFailure) -> ChirpACL? {
        var current = directory
        while true {
            if let text = try root.readSmallFile(current, name: ChirpAccessControl.fileName) {
                return ChirpACL(text: text)
            }
            guard inherit, !current.isRoot else { return defaultACL }
            current = current.parent
        }
    }

    /// `subject`'s rights in `directory`. Without any ACL there, a missing
    /// directory is ENOENT and an existing one EACCES, as clients expect.
    func rights(_ subject: String, in directory: ChirpServerPath) throws(ChirpFailure) -> ChirpRights {
        guard let acl = try effectiveACL(directory) else {
            throw ChirpFailure(root.isDirectory(directory) ? EACCES : ENOENT)
        }
        var rights = acl.rights(of: subject)
        if readOnly { rights.formIntersection([.read, .list]) }
        return rights
    }

    func has(_ needed: ChirpRights, _ subject: String, in directory: ChirpServerPath) throws(ChirpFailure) -> Bool {
        try rights(subject, in: directory).isSuperset(of: needed)
    }

    /// Fails with EACCES unless `subject` has every right of `needed` in `directory`.
    func require(_ needed: ChirpRights, _ subject: String, in directory: ChirpServerPath) throws(ChirpFailure) {
        guard try has(needed, subject, in: directory) else { throw ChirpFailure(EACCES) }
    }

    /// The directory whose ACL governs `path`: the path itself if it is a
    /// directory, else the one holding it. With `follow`, a final symlink is
    /// judged by where it points (one level, like the reference server).
    func governingDirectory(_ path: ChirpServerPath, follow: Bool) -> ChirpServerPath {
        var target = path
        if follow, let link = try? readlink(path) {
            target = link.hasPrefix("/") ? ChirpServerPath(collapsing: link)
                : ChirpServerPath(collapsing: path.parent.description + "/" + link)
        }
        return root.isDirectory(target) && (follow || !isSymlink(path)) ? target : target.parent
    }

    /// Fails with EACCES unless `subject` has `needed` where `path` lives.
    func requireOn(_ path: ChirpServerPath, _ needed: ChirpRights, _ subject: String, follow: Bool = true) throws(ChirpFailure) {
        try require(needed, subject, in: governingDirectory(path, follow: follow))
    }

    private func readlink(_ path: ChirpServerPath) throws(ChirpFailure) -> String {
        try root.withParent(path) { (dir, name) throws(ChirpFailure) -> String in
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = try posixCall { readlinkat(dir, name, &buffer, buffer.count - 1) }
            return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    private func isSymlink(_ path: ChirpServerPath) -> Bool {
        root.existingStatus(path, follow: false).map { $0.st_mode & S_IFMT == S_IFLNK } ?? false
    }
}
