import ParrotCache
import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Advisory locks on virtual descriptors, which no protocol here carries:
/// the kernel holds them on a local shadow file per remote file (one
/// directory per user, so they hold among this agent's processes and among
/// the user's agents on this host, not across hosts). The agent is one
/// process, so every owner is a shadow descriptor of its own, with OFD locks:
/// - OFD locks: one per open file description, the kernel's owner;
/// - flock: the same, as whole-file OFD locks on a second shadow file
///   (flock and record locks do not meet on Linux);
/// - POSIX record locks: one per process and file, closed when the process
///   closes any descriptor of the file or ends, which drops them all, as POSIX says.
final class ShadowLocks {
    private let directory: String
    /// An owner's shadow descriptor, with what it belongs to (weakly: an
    /// identifier outlives its object, and may come back for another).
    private struct Owner<Of: AnyObject> {
        weak var of: Of?
        let fd: Int32
    }
    private var byDescription: [ObjectIdentifier: Owner<OpenFile>] = [:]
    private var flocksByDescription: [ObjectIdentifier: Owner<OpenFile>] = [:]
    private var byProcess: [ObjectIdentifier: [String: Owner<ProcessState>]] = [:]

    init(directory: String) {
        self.directory = directory
    }

    deinit {
        for owner in byDescription.values { close(owner.fd) }
        for owner in flocksByDescription.values { close(owner.fd) }
        for files in byProcess.values { for owner in files.values { close(owner.fd) } }
    }

    /// The shadow descriptor that owns `file`'s OFD locks, or its flocks.
    func descriptionOwner(_ file: OpenFile, flock: Bool = false) throws(ServiceError) -> Int32 {
        let id = ObjectIdentifier(file)
        if let owner = (flock ? flocksByDescription : byDescription)[id] {
            if owner.of === file { return owner.fd }
            close(owner.fd)  // another description's, gone unseen
        }
        let owner = Owner(of: file, fd: try open(file, suffix: flock ? ".flock" : ""))
        if flock { flocksByDescription[id] = owner } else { byDescription[id] = owner }
        return owner.fd
    }

    /// The shadow descriptor that owns `process`'s POSIX locks on `file`.
    func processOwner(_ process: ProcessState, _ file: OpenFile) throws(ServiceError) -> Int32 {
        let id = ObjectIdentifier(process), key = Self.key(file)
        if let owners = byProcess[id], let any = owners.values.first, any.of !== process {
            processEnded(id)  // another process's, gone unseen
        }
        if let owner = byProcess[id]?[key] { return owner.fd }
        let owner = Owner(of: process, fd: try open(file))
        byProcess[id, default: [:]][key] = owner
        return owner.fd
    }

    /// `file`'s last descriptor went: its flock and OFD locks go.
    func descriptionClosed(_ file: OpenFile) {
        if let owner = byDescription.removeValue(forKey: ObjectIdentifier(file)) { close(owner.fd) }
        if let owner = flocksByDescription.removeValue(forKey: ObjectIdentifier(file)) { close(owner.fd) }
    }

    /// `process` closed a descriptor of `file`: its POSIX locks there go.
    func processClosed(_ process: ProcessState, _ file: OpenFile) {
        if let owner = byProcess[ObjectIdentifier(process)]?.removeValue(forKey: Self.key(file)) { close(owner.fd) }
    }

    func processEnded(_ process: ProcessState) { processEnded(ObjectIdentifier(process)) }

    private func processEnded(_ id: ObjectIdentifier) {
        for owner in byProcess.removeValue(forKey: id)?.values ?? [:].values { close(owner.fd) }
    }

    /// The server's file, by its inode where the open gave one: a rename
    /// keeps it, and hard links share it, as their locks do; else its name.
    private static func key(_ file: OpenFile) -> String {
        guard let identity = file.identity else { return Agent.cacheKey(file.location) }
        return "\(file.location.service)/\(file.location.authority)#\(identity.device):\(identity.inode)"
    }

    private func open(_ file: OpenFile, suffix: String = "") throws(ServiceError) -> Int32 {
        mkdir(directory, 0o700)
        let path = directory + "/" + WholeFileCache.hash(Self.key(file)) + suffix
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw ServiceError.posix("open", path) }
        return fd
    }
}
