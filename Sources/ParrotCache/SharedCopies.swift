import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// Hard links: a remote file with several names has one local copy, so that
/// stat and fstat give all its names one device and inode (tar, cp -a and du
/// tell links apart by them) and a write through one name shows through the
/// others. The file's link key (service, server, device, inode) names an
/// anchor entry, LINK-HASH.data, a hard link of that copy; each name's data
/// file is another. The anchor's meta says for which state of the remote file
/// the shared copy is valid, so a second name takes the copy without a fetch.
///
/// A name's copy is joined to the anchor only when that cannot lose data: a
/// copy without meta may be a program's writes on their way to the server
/// (or another agent's fetch), and then stays a file of its own. A copy
/// opened to be written is made the name's own first (makePrivate): its
/// writes must not show under the other names as the server's file, nor be
/// undone by a fetch under another name, before they are back; once back,
/// it becomes the anchor (publish) and the other names join it again.
extension WholeFileCache {
    /// Makes the copy of `key` (at `base`) and the anchor of `link` one file.
    func join(_ base: String, key: String, link: String, status: FileStatus) {
        let anchor = directory + "/" + Self.hash(link)
        guard let lock = try? Lock(anchor + ".lock") else { return }
        defer { lock.release() }
        var own = stat(), shared = stat()
        let hasOwn = lstat(base + ".data", &own) == 0, hasShared = lstat(anchor + ".data", &shared) == 0
        if hasOwn && hasShared && own.st_dev == shared.st_dev && own.st_ino == shared.st_ino { return }
        let ownMeta = readMeta(base).flatMap { $0.key == key ? $0 : nil }
        let sharedMeta = readMeta(anchor).flatMap { $0.key == link ? $0 : nil }
        switch (hasOwn, hasShared) {
        case (false, false):
            let fd = open(base + ".data", O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            close(fd)
            Glibc.link(base + ".data", anchor + ".data")
        case (false, true):
            Glibc.link(anchor + ".data", base + ".data")
        case (true, false):
            // An empty file without meta is a placeholder made for stat.
            guard ownMeta != nil || own.st_size == 0 && !exists(meta: base) else { return }
            guard Glibc.link(base + ".data", anchor + ".data") == 0 else { return }
            if let ownMeta, ownMeta.describes(status) { copyMeta(ownMeta, to: anchor, key: link) }
        case (true, true):
            guard let ownMeta else { return }  // maybe written: left alone
            if sharedMeta?.describes(status) != true && ownMeta.describes(status) && holds(base, size: ownMeta.size) {
                // This name has the current copy: the anchor becomes it.
                guard replace(anchor + ".data", with: base + ".data") else { return }
                copyMeta(ownMeta, to: anchor, key: link)
            } else {
                if sharedMeta?.describes(status) != true { unlink(base + ".meta") }
                guard replace(base + ".data", with: anchor + ".data") else { return }
            }
        }
        // Marked, so that a change through this name forgets the shared copy.
        if let ownMeta = readMeta(base), ownMeta.key == key, ownMeta.linked != link {
            copyMeta(ownMeta, to: base, key: key, linked: link)
        }
    }

    /// Takes the anchor's copy as this name's when the anchor holds the file
    /// as it is now and the name's copy is the anchor's file.
    func adopt(_ base: String, key: String, link: String, status: FileStatus) -> Bool {
        let anchor = directory + "/" + Self.hash(link)
        guard let meta = readMeta(anchor), meta.key == link, meta.describes(status), holds(anchor, size: meta.size),
              sameFile(base + ".data", anchor + ".data") else { return false }
        copyMeta(meta, to: base, key: key, linked: link)
        return true
    }

    /// The copy at `base` holds the remote file as `status` says (just
    /// fetched, or written back): it becomes the anchor, for the other names.
    func publish(_ base: String, link: String, status: FileStatus, size: Int64) {
        let anchor = directory + "/" + Self.hash(link)
        guard let lock = try? Lock(anchor + ".lock") else { return }
        defer { lock.release() }
        unlink(anchor + ".meta")
        guard sameFile(base + ".data", anchor + ".data") || replace(anchor + ".data", with: base + ".data") else { return }
        try? writeMeta(anchor, key: link, size: size, mtime: status.mtime, version: status.version, inode: status.ino)
    }

    /// Gives the copy at `base` a file of its own when it shares one with
    /// other names, with the same bytes or empty. Called with its lock held.
    func makePrivate(_ base: String, keepingContents: Bool) throws(ServiceError) {
        let data = base + ".data"
        var status = stat()
        guard lstat(data, &status) == 0, status.st_nlink > 1 else { return }
        let temporary = data + ".own.\(getpid())"
        let target = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(status.st_mode & 0o7777))
        guard target >= 0 else { throw ServiceError.posix("open", temporary) }
        var copied = true
        if keepingContents {
            let source = open(data, O_RDONLY | O_CLOEXEC)
            copied = source >= 0 && Self.copyAll(from: source, to: target)
            if source >= 0 { close(source) }
        }
        var times = [status.st_atim, status.st_mtim]
        futimens(target, &times)
        close(target)
        guard copied, rename(temporary, data) == 0 else {
            unlink(temporary)
            throw ServiceError(errno: EIO, message: "cannot copy \(data) for writing")
        }
    }

    /// The shared copy is being changed: no name takes it as valid meanwhile.
    func unshareMeta(link: String) {
        unlink(directory + "/" + Self.hash(link) + ".meta")
    }

    private func copyMeta(_ meta: Meta, to base: String, key: String, linked: String? = nil) {
        try? writeMeta(base, key: key, size: meta.size, mtime: meta.mtime, version: meta.version, inode: meta.inode,
                       linked: linked)
    }

    /// Puts a hard link of `source` at `path` in one step (descriptors open
    /// on what `path` was keep it, as after a local file is replaced).
    private func replace(_ path: String, with source: String) -> Bool {
        let temporary = path + ".link.\(getpid())"
        unlink(temporary)
        guard Glibc.link(source, temporary) == 0 else { return false }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// The whole of `source` written to `target`.
    private static func copyAll(from source: Int32, to target: Int32) -> Bool {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(source, buffer.baseAddress, buffer.count)
            if count == 0 { return true }
            guard count > 0, write(target, buffer.baseAddress, count) == count else { return false }
        }
    }

    private func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        return lstat(a, &first) == 0 && lstat(b, &second) == 0 && first.st_dev == second.st_dev
            && first.st_ino == second.st_ino
    }

    private func exists(meta base: String) -> Bool { access(base + ".meta", F_OK) == 0 }
}
