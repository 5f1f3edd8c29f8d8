import ParrotCache
import ParrotNamespace
import ParrotServices

/// Which remote file each whole-file cache entry copies, by the file's
/// identity (server, device, inode): a change the agent makes through one
/// name of a file drops the cached copies made under its other names (a
/// symbolic or hard link), which the server's size and whole-second mtime
/// cannot tell apart from the changed file when the change is quick and
/// keeps the size.
final class CopiedFiles {
    private struct File: Hashable {
        let service: ObjectIdentifier
        let identity: FileIdentity

        init?(_ status: FileStatus, on service: FileService) {
            guard let identity = FileIdentity(status) else { return nil }
            self.service = ObjectIdentifier(service)
            self.identity = identity
        }
    }

    private let cache: WholeFileCache
    private var keysOf: [File: Set<String>] = [:]
    private var fileOf: [String: File] = [:]

    init(cache: WholeFileCache) { self.cache = cache }

    /// The entry `key` copies the file `status` describes.
    func copied(_ key: String, of status: FileStatus, on service: FileService) {
        guard let file = File(status, on: service) else { return }
        if let known = fileOf[key], known != file { keysOf[known]?.remove(key) }
        if keysOf.count > 65536 {
            keysOf.removeAll()
            fileOf.removeAll()
        }
        fileOf[key] = file
        keysOf[file, default: []].insert(key)
    }

    /// Whether the entry `key` copies a file other than `status`'s.
    func isAnotherFile(_ key: String, _ status: FileStatus, on service: FileService) -> Bool {
        guard let known = fileOf[key], let file = File(status, on: service) else { return false }
        return known != file
    }

    /// The entry `key` was removed with its file's name.
    func forget(_ key: String) {
        guard let file = fileOf.removeValue(forKey: key) else { return }
        keysOf[file]?.remove(key)
    }

    /// The entry `key` became `newKey`'s (a rename): what `newKey` copied is gone.
    func moved(_ key: String, to newKey: String) {
        forget(newKey)
        guard let file = fileOf.removeValue(forKey: key) else { return }
        keysOf[file]?.remove(key)
        fileOf[newKey] = file
        keysOf[file, default: []].insert(newKey)
    }

    /// The agent changed the file `status` describes (through the name of
    /// `key`, whose own entry its caller handles): copies under other names
    /// go. The status (often a request) is asked for only when a copy is known.
    func changed(_ status: @autoclosure () -> FileStatus?, on service: FileService, except key: String? = nil) {
        guard !keysOf.isEmpty, let status = status(), let file = File(status, on: service),
              let keys = keysOf[file] else { return }
        for other in keys where other != key {
            cache.invalidate(key: other)
            keysOf[file]?.remove(other)
            fileOf[other] = nil
        }
    }

    /// The file `status` describes was written back under no name of this
    /// cache (through a descriptor held since its name at `location` went):
    /// copies under its other names go, and so does the one they share.
    func changedUnderNoName(_ status: FileStatus?, at location: RemoteLocation, on service: FileService) {
        changed(status, on: service)
        if let status, let link = Agent.anyLinkKey(location, status) { cache.forgetShared(link: link) }
    }
}
