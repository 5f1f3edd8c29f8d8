import CChirpServerShim
#if canImport(Glibc)
import Glibc
#endif

/// The exported directory. Every path is resolved by the kernel beneath the
/// root's descriptor (openat2 RESOLVE_BENEATH), so neither `..`, nor a symlink
/// leading out, nor an absolute symlink can reach a file outside it: such a
/// path fails with EACCES. All calls block: run them on the I/O thread pool.
final class ChirpRoot: Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws(ChirpFailure) {
        self.path = path
        descriptor = try posixCall { Glibc.open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) }
        // Fails at start, not on the first request, on kernels without openat2 (< 5.6).
        let probe = chirp_open_beneath(descriptor, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
        guard probe >= 0 else { close(descriptor); throw ChirpFailure(-probe) }
        close(probe)
    }

    deinit { close(descriptor) }

    /// A new descriptor for `path`; `follow: false` opens a final symlink itself.
    func open(_ path: ChirpServerPath, flags: Int32, mode: mode_t = 0, follow: Bool = true) throws(ChirpFailure) -> Int32 {
        guard !path.isReserved else { throw ChirpFailure(EACCES) }
        // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
        let all = flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW) | (flags & O_PATH == 0 ? O_NOCTTY : 0)
        while true {
            let fd = chirp_open_beneath(descriptor, path.relative, all, UInt32(mode))
            if fd >= 0 { return fd }
            switch -fd {
            case EINTR, EAGAIN: continue  // EAGAIN: a rename raced the lookup
            case EXDEV: throw ChirpFailure(EACCES)  // the path leads out of the root
            default: throw ChirpFailure(-fd)
            }
        }
    }

    /// Runs `body` with a descriptor of `path`, closed afterwards.
    func with<T>(_ path: ChirpServerPath, flags: Int32 = O_PATH, follow: Bool = true,
                 _ body: (Int32) throws(ChirpFailure) -> T) throws(ChirpFailure) -> T {
        let fd = try open(path, flags: flags, follow: follow)
        defer { close(fd) }
        return try body(fd)
    }

    /// Runs `body` with the directory holding `path` and the last name, for the
    /// *at() calls that must not follow that name (mkdir, unlink, rename, ...).
    func withParent<T>(_ path: ChirpServerPath, _ body: (Int32, String) throws(ChirpFailure) -> T) throws(ChirpFailure) -> T {
        guard !path.isRoot else { throw ChirpFailure(EBUSY) }  // the root itself cannot be moved or removed
        guard !path.isReserved else { throw ChirpFailure(EACCES) }
        return try with(path.parent, flags: O_PATH | O_DIRECTORY) { (dir) throws(ChirpFailure) -> T in try body(dir, path.name) }
    }

    func status(_ path: ChirpServerPath, follow: Bool = true) throws(ChirpFailure) -> stat {
        try with(path, follow: follow) { (fd) throws(ChirpFailure) -> stat in try ChirpRoot.status(fd) }
    }

    /// nil when `path` does not exist (or cannot be reached).
    func existingStatus(_ path: ChirpServerPath, follow: Bool = true) -> stat? {
        try? status(path, follow: follow)
    }

    func isDirectory(_ path: ChirpServerPath) -> Bool {
        existingStatus(path).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false
    }

    static func status(_ fd: Int32) throws(ChirpFailure) -> stat {
        var st = stat()
        try posixCall { fstat(fd, &st) }
        return st
    }

    static func fileSystemStatus(_ fd: Int32) throws(ChirpFailure) -> statfs {
        var st = statfs()
        try posixCall { fstatfs(fd, &st) }
        return st
    }

    /// The name under which path-based calls reach an O_PATH descriptor's file
    /// (chmod, truncate, utimensat and access have no O_PATH forms).
    static func procPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }

    /// A small file of the server's (an ACL), or nil if it does not exist.
    func readSmallFile(_ directory: ChirpServerPath, name: String) throws(ChirpFailure) -> String? {
        let fd = chirp_open_beneath(descriptor, directory.appendingReserved(name),
                                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0)
        if fd == -ENOENT || fd == -ENOTDIR { return nil }
        guard fd >= 0 else { throw ChirpFailure(-fd == EXDEV ? EACCES : -fd) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = try posixCall { read(fd, &chunk, chunk.count) }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces a small file of the server's atomically (write, then rename).
    func writeSmallFile(_ directory: ChirpServerPath, name: String, contents: String) throws(ChirpFailure) {
        try with(directory, flags: O_PATH | O_DIRECTORY) { (dir) throws(ChirpFailure) in
            let temporary = "\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
            let fd = try posixCall { openat(dir, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            let bytes = Array(contents.utf8)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
            guard written == bytes.count, renameat(dir, temporary, dir, name) == 0 else {
                let failure = written < 0 ? ChirpFailure.last : ChirpFailure(ENOSPC)
                unlinkat(dir, temporary, 0)
                throw failure
            }
        }
    }
}

extension ChirpServerPath {
    /// The relative path of a reserved name in this directory (reserved names
    /// are refused by `ChirpRoot.open`, so the server reaches them this way).
    func appendingReserved(_ name: String) -> String {
        isRoot ? name : relative + "/" + name
    }
}

/// Glibc declares O_PATH only under _GNU_SOURCE, which Swift's module does not
/// set. The value is the same on every Linux architecture Swift supports.
let O_PATH: Int32 = 0o10000000
