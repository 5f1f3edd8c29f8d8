#if canImport(Glibc)
import Glibc
#endif

/// Operations that create, remove or rename names.
extension ChirpFileSystem {
    /// With the `v` right the new directory gets a private ACL for its maker;
    /// with `w` it gets a copy of its parent's (protocols/chirp.md §6.2).
    func mkdir(_ path: ChirpServerPath, mode: Int64, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        let governing = access.governingDirectory(path, follow: true)
        let rights = try access.rights(subject, in: governing)
        let acl: ChirpACL
        if rights.contains(.reserve) {
            acl = ChirpACL(entries: [.init(subject: subject, rights: rights.reservationGrant)])
        } else if rights.contains(.write) {
            acl = try access.effectiveACL(path.parent) ?? ChirpACL(entries: [])
        } else {
            throw ChirpFailure(root.isDirectory(path) ? EEXIST : EACCES)
        }
        try root.withParent(path) { (dir, name) throws(ChirpFailure) in
            try posixCall { mkdirat(dir, name, ChirpFileSystem.permissions(mode)) }
        }
        do {
            try root.writeSmallFile(path, name: ChirpAccessControl.fileName, contents: acl.text)
        } catch {
            // A directory without its ACL would grant the wrong rights: undo.
            _ = try? root.withParent(path) { (dir, name) throws(ChirpFailure) in unlinkat(dir, name, AT_REMOVEDIR) }
            throw ChirpFailure(EACCES)
        }
        return .ok
    }

    /// Removes a directory that holds nothing but the server's own `.__` files.
    func rmdir(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.delete, subject, in: path.parent)
        try root.withParent(path) { (dir, name) throws(ChirpFailure) in
            let fd = try posixCall { openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            defer { close(fd) }
            let names = try ChirpDirectoryReader.names(fd)
            guard names.allSatisfy({ $0.hasPrefix(".__") }) else { throw ChirpFailure(ENOTEMPTY) }
            for reserved in names { unlinkat(fd, reserved, 0) }
            try posixCall { unlinkat(dir, name, AT_REMOVEDIR) }
        }
        return .ok
    }

    /// Deletes a whole tree. The `d` right on its parent is enough, whatever
    /// the ACLs below say, as with the reference server.
    func rmall(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.delete, subject, in: path.parent)
        try root.withParent(path) { (dir, name) throws(ChirpFailure) in try ChirpFileSystem.removeTree(dir, name) }
        return .ok
    }

    /// Never follows a symlink: a link to a directory outside is unlinked, not emptied.
    private static func removeTree(_ dir: Int32, _ name: String) throws(ChirpFailure) {
        if unlinkat(dir, name, 0) == 0 { return }
        guard errno == EISDIR else { throw ChirpFailure.last }
        let fd = try posixCall { openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        for entry in try ChirpDirectoryReader.names(fd) { try removeTree(fd, entry) }
        try posixCall { unlinkat(dir, name, AT_REMOVEDIR) }
    }

    func unlink(_ path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require(.delete, subject, in: path.parent)
        try root.withParent(path) { (dir, name) throws(ChirpFailure) in try posixCall { unlinkat(dir, name, 0) } }
        return .ok
    }

    /// `r` and `d` where the old name is, `w` where the new one goes.
    func rename(_ old: ChirpServerPath, to new: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.require([.read, .delete], subject, in: old.parent)
        try access.requireOn(new, .write, subject)
        try root.withParent(old) { (oldDir, oldName) throws(ChirpFailure) in
            try root.withParent(new) { (newDir, newName) throws(ChirpFailure) in
                if renameat(oldDir, oldName, newDir, newName) == 0 { return }
                let failure = ChirpFailure.last
                guard failure.errno == ENOTEMPTY || failure.errno == EEXIST else { throw failure }
                try Self.replaceEmptied(oldDir, oldName, by: newDir, newName)
            }
        }
        return .ok
    }

    /// A directory that holds nothing but the server's own `.__` files (its
    /// ACL) is empty to clients, so a directory renamed onto it replaces it,
    /// as rmdir removes it; the files come back if the rename still fails.
    private static func replaceEmptied(_ oldDir: Int32, _ oldName: String, by newDir: Int32, _ newName: String) throws(ChirpFailure) {
        let fd = try posixCall { openat(newDir, newName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        let names = try ChirpDirectoryReader.names(fd)
        guard names.allSatisfy({ $0.hasPrefix(".__") }) else { throw ChirpFailure(ENOTEMPTY) }
        var kept: [(String, [UInt8])] = []
        for name in names {
            let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard file >= 0 else { continue }
            var bytes = [UInt8](repeating: 0, count: 1 << 16)
            let n = read(file, &bytes, bytes.count)
            close(file)
            if n >= 0 { kept.append((name, Array(bytes[..<n]))) }
            unlinkat(fd, name, 0)
        }
        guard renameat(oldDir, oldName, newDir, newName) != 0 else { return }
        let failure = ChirpFailure.last
        for (name, bytes) in kept {
            let file = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard file >= 0 else { continue }
            _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
            close(file)
        }
        throw failure
    }

    func link(_ existing: ChirpServerPath, to new: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(existing, [.read, .write], subject, follow: false)
        try access.requireOn(new, .write, subject)
        try root.withParent(existing) { (oldDir, oldName) throws(ChirpFailure) in
            try root.withParent(new) { (newDir, newName) throws(ChirpFailure) in
                try posixCall { linkat(oldDir, oldName, newDir, newName, 0) }
            }
        }
        return .ok
    }

    /// The target is stored exactly as sent (not URL-decoded), as the reference
    /// server does. Any target may be stored: resolution stays beneath the root.
    func symlink(target: Substring, at path: ChirpServerPath, _ subject: String) throws(ChirpFailure) -> ChirpReply {
        try access.requireOn(path, .write, subject)
        try root.withParent(path) { (dir, name) throws(ChirpFailure) in
            try posixCall { symlinkat(String(target), dir, name) }
        }
        return .ok
    }
}
