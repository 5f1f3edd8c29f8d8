/// ACL requests (protocols/chirp.md §6.4).
extension ChirpFileSystem {
    /// Open to everyone, as in the reference server: seeing why access is
    /// denied is worth more than hiding the ACL.
    func getacl(_ path: ChirpServerPath) throws(ChirpFailure) -> ChirpReply {
        guard root.isDirectory(path) else {
            throw ChirpFailure(root.existingStatus(path) == nil ? ENOENT : ENOTDIR)
        }
        guard let acl = try access.effectiveACL(path) else { throw ChirpFailure(ENOENT) }
        return ChirpReply(lines: acl.entries.map { "\($0.subject) \($0.rights.text)" } + [""])
    }

    /// Needs `a`. The directory gets its own ACL: the one in force, changed.
    /// No rights (`-`, `n`, or no letter at all) removes the subject's entry.
    func setacl(_ path: ChirpServerPath, entry: Substring, rights: Substring, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.admin, subject, in: path)
        guard root.isDirectory(path) else { throw ChirpFailure(ENOTDIR) }
        var acl = try access.effectiveACL(path) ?? ChirpACL(entries: [])
        acl.set(String(entry), ChirpRights(text: rights))
        try root.writeSmallFile(path, name: ChirpAccessControl.fileName, contents: acl.text)
        return .ok
    }

    /// Needs `a`. Replaces the whole ACL with one entry: the caller, with `rights` and `a`.
    func resetacl(_ path: ChirpServerPath, rights: Substring, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.admin, subject, in: path)
        guard root.isDirectory(path) else { throw ChirpFailure(ENOTDIR) }
        let acl = ChirpACL(entries: [.init(subject: subject, rights: ChirpRights(text: rights).union(.admin))])
        try root.writeSmallFile(path, name: ChirpAccessControl.fileName, contents: acl.text)
        return .ok
    }
}

#if canImport(Glibc)
import Glibc
#endif
