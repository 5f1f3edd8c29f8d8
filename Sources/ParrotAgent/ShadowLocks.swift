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
    private var byDescription: [ObjectIdentifier: Int32] = [:]
    private var flocksByDescription: [ObjectIdentifier: Int32] = [:]
    private var byProcess: [ObjectIdentifier: [String: Int32]] = [:]

    init(directory: String) {
        self.directory = directory
    }

    deinit {
        for fd in byDescription.values { close(fd) }
        for fd in flocksByDescription.values { close(fd) }
        for files in byProcess.values { for fd in files.values { close(fd) } }
    }

    /// The shadow descriptor that owns `file`'s OFD locks, or its flocks.
    func descriptionOwner(_ file: OpenFile, flock: Bool = false) throws(ServiceError) -> Int32 {
        if let fd = (flock ? flocksByDescription : byDescription)[ObjectIdentifier(file)] { return fd }
        let fd = try open(file, suffix: flock ? ".flock" : "")
        if flock { flocksByDescription[ObjectIdentifier(file)] = fd } else { byDescription[ObjectIdentifier(file)] = fd }
        return fd
    }

    /// The shadow descriptor that owns `process`'s POSIX locks on `file`.
    func processOwner(_ process: ProcessState, _ file: OpenFile) throws(ServiceError) -> Int32 {
        let key = Self.key(file)
        if let fd = byProcess[ObjectIdentifier(process)]?[key] { return fd }
        let fd = try open(file)
        byProcess[ObjectIdentifier(process), default: [:]][key] = fd
        return fd
    }

    /// `file`'s last descriptor went: its flock and OFD locks go.
    func descriptionClosed(_ file: OpenFile) {
        if let fd = byDescription.removeValue(forKey: ObjectIdentifier(file)) { close(fd) }
        if let fd = flocksByDescription.removeValue(forKey: ObjectIdentifier(file)) { close(fd) }
    }

    /// `process` closed a descriptor of `file`: its POSIX locks there go.
    func processClosed(_ process: ProcessState, _ file: OpenFile) {
        if let fd = byProcess[ObjectIdentifier(process)]?.removeValue(forKey: Self.key(file)) { close(fd) }
    }

    func processEnded(_ process: ProcessState) {
        for fd in byProcess.removeValue(forKey: ObjectIdentifier(process))?.values ?? [:].values { close(fd) }
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
