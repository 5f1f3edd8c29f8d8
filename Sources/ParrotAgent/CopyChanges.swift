import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// What a program did to a local copy of a remote file (materialized or
/// cached), as inotify reports it, and how that goes back to the server.
struct CopyChanges {
    /// The remote file's own permission bits.
    let remoteMode: UInt32
    /// Seen written (IN_MODIFY): the data goes back.
    var modified = false
    /// Seen chmod'ed or touched (IN_ATTRIB): mode and times go back
    /// (`touch` opens a file onto stdin and sets its times there).
    var attributesChanged = false

    init(remoteMode: UInt32) {
        self.remoteMode = remoteMode
    }

    /// The copy's bits as the agent sets them, before it is watched: the
    /// remote's, readable and writable by the agent. A difference later is
    /// the program's chmod.
    var baselineMode: UInt32 { remoteMode | 0o600 }

    var isChanged: Bool { modified || attributesChanged }

    mutating func note(_ mask: UInt32) {
        if mask & UInt32(IN_MODIFY) != 0 { modified = true }
        if mask & UInt32(IN_ATTRIB) != 0 { attributesChanged = true }
    }

    /// Everything was sent: nothing to send until the next change.
    mutating func reset() {
        modified = false
        attributesChanged = false
    }

    /// Sends the data if it was written, then mode and times if they were
    /// set; returns whether data went.
    func giveBack(from localPath: String, to path: String, on service: FileService) throws(ServiceError) -> Bool {
        var local = stat()
        guard lstat(localPath, &local) == 0 else { throw ServiceError.posix("stat", localPath) }
        let chmodded = local.st_mode & 0o7777 != baselineMode
        if modified {
            _ = try service.putFile(localPath, to: path, mode: chmodded ? local.st_mode & 0o7777 : remoteMode)
        }
        if attributesChanged {
            if chmodded { try service.chmod(path, mode: local.st_mode & 0o7777) }
            try service.utimes(path, access: Timestamp(local.st_atim), modification: Timestamp(local.st_mtim))
        }
        return modified
    }
}
