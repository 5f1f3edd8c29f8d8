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
/// A copy opened to be written is made the name's own first (makePrivate):
/// its writes must not show under the other names as the server's file, nor
/// be undone by a fetch under another name, before they are back; once
/// back, it becomes the anchor (publish) and the other names join it again.
/// So a shared file is never being written by a program, and only a copy
/// without meta may be (one out of date keeps a meta that describes no
/// file, see outdate): such a copy is never joined. A fetch into
/// a shared file goes to a file of its own first (fetchShared), so that the
/// other names never see half a file. Callers hold the entry's lock; the
/// anchor's lock is taken after it, never before.
extension WholeFileCache {
    /// Makes the copy of `key` (at `base`) and the anchor of `link` one file.
    func join(_ base: String, key: String, link: String, status: FileStatus) {
        let anchor = stem(of: link)
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
            if Glibc.link(base + ".data", anchor + ".data") == 0 { tombstone(anchor, key: link) }
        case (false, true):
            Glibc.link(anchor + ".data", base + ".data")
        case (true, false):
            guard let ownMeta else { return }  // maybe written: left alone
            guard Glibc.link(base + ".data", anchor + ".data") == 0 else { return }
            if ownMeta.describes(status) { copyMeta(ownMeta, to: anchor, key: link) } else { tombstone(anchor, key: link) }
        case (true, true):
            guard let ownMeta else { return }  // maybe written: left alone
            if sharedMeta?.describes(status) != true && ownMeta.describes(status) && holds(base, size: ownMeta.size) {
                // This name has the current copy: the anchor becomes it.
                guard replace(anchor + ".data", with: base + ".data") else { return }
                copyMeta(ownMeta, to: anchor, key: link)
            } else {
                if sharedMeta?.describes(status) != true { outdate(base) }
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
        let anchor = stem(of: link)
        guard let meta = readMeta(anchor), meta.key == link, meta.describes(status), holds(anchor, size: meta.size),
              sameFile(base + ".data", anchor + ".data") else { return false }
        copyMeta(meta, to: base, key: key, linked: link)
        return true
    }

    /// The copy at `base` holds the remote file as `status` says (just
    /// fetched, or written back): it becomes the anchor, for the other names.
    func publish(_ base: String, link: String, status: FileStatus, size: Int64, anchorLocked: Bool = false) {
        let anchor = stem(of: link)
        let lock = anchorLocked ? nil : try? Lock(anchor + ".lock")
        guard anchorLocked || lock != nil else { return }
        defer { lock?.release() }
        tombstone(anchor, key: link)
        guard sameFile(base + ".data", anchor + ".data") || replace(anchor + ".data", with: base + ".data") else { return }
        try? writeMeta(anchor, key: link, size: size, mtime: status.mtime, version: status.version, inode: status.ino)
    }

    /// Gives the copy at `base` a file of its own when it shares one with
    /// other names, with the same bytes or empty. Called with its lock held.
    func makePrivate(_ base: String, keepingContents: Bool, link: String? = nil) throws(ServiceError) {
        let data = base + ".data"
        var status = stat()
        guard lstat(data, &status) == 0, status.st_nlink > 1 else { return }
        if keepingContents { evict(sparing: base, added: Int64(status.st_size)) }
        // A fetch under another name rewrites the shared file under the anchor's lock.
        let lock = keepingContents ? link.flatMap { try? Lock(stem(of: $0) + ".lock") } : nil
        defer { lock?.release() }
        try copy(data, keepingContents ? data : nil, to: data, mode: status.st_mode & 0o7777,
                 times: [status.st_atim, status.st_mtim], replacing: true)
    }

    /// Fetches the remote file for a name whose copy is shared: into a file
    /// of its own first, then into the shared file in one local copy under
    /// the anchor's lock (its inode is what stat reported for every name).
    /// Called with the entry's lock held.
    func fetchShared(key: String, service: FileService, path: String, status: FileStatus,
                     link: String?) throws(ServiceError) -> Entry {
        let base = stem(of: key), data = base + ".data"
        let download = data + ".fetch.\(getpid())"
        defer { unlink(download) }
        let size: Int64
        do throws(ServiceError) { size = try service.getFile(path, to: download) } catch {
            tombstone(base, key: key, linked: link)  // shared, so not written: may be evicted
            throw error
        }
        evict(sparing: base, added: size)
        let lock = link.flatMap { try? Lock(stem(of: $0) + ".lock") }
        defer { lock?.release() }
        try copy(data, download, to: data, mode: status.mode & 0o7777 | 0o600, times: [status.atime.timespec, status.mtime.timespec],
                 replacing: false)
        return try fetched(base, key: key, status: status, size: size, link: link, anchorLocked: lock != nil)
    }

    /// The copy at `base` was just fetched: valid for `status`, and the
    /// shared copy of the file's other names when it has some.
    func fetched(_ base: String, key: String, status: FileStatus, size: Int64, link: String?,
                 anchorLocked: Bool = false) throws(ServiceError) -> Entry {
        try writeMeta(base, key: key, size: size, mtime: status.mtime, version: status.version, inode: status.ino,
                      linked: link)
        if let link { publish(base, link: link, status: status, size: size, anchorLocked: anchorLocked) }
        checkedThisRun.insert(key)
        return Entry(key: key, dataPath: base + ".data", size: size)
    }

    /// Writes the bytes of `source` (nil: none) to `path`: into a new file
    /// put in its place (`replacing`), or into the file itself. The errno
    /// of a failure is the program's (ENOSPC: the cache's disk is full).
    private func copy(_ path: String, _ source: String?, to target: String, mode: UInt32, times: [timespec],
                      replacing: Bool) throws(ServiceError) {
        let written = replacing ? target + ".own.\(getpid())" : target
        let fd = open(written, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw ServiceError.posix("open", written) }
        var failure: Int32 = 0
        if let source {
            let input = open(source, O_RDONLY | O_CLOEXEC)
            failure = input < 0 ? errno : Self.copyAll(from: input, to: fd)
            if input >= 0 { close(input) }
        }
        // (An existing file keeps its bits through O_CREAT: set them.)
        if failure == 0 { fchmod(fd, mode_t(mode)) }
        var times = times
        futimens(fd, &times)
        close(fd)
        if failure == 0 && replacing && rename(written, target) != 0 { failure = errno }
        guard failure == 0 else {
            if replacing { unlink(written) }
            throw ServiceError(errno: failure, message: "cannot copy \(path) in the cache")
        }
    }

    /// The shared copy is being changed: no name takes it as valid meanwhile.
    /// (The anchor keeps a meta, out of date: it may be evicted then.)
    func unshareMeta(link: String) {
        tombstone(stem(of: link), key: link)
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

    /// The whole of `source` written to `target`; 0 or the errno of the failure.
    private static func copyAll(from source: Int32, to target: Int32) -> Int32 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(source, buffer.baseAddress, buffer.count)
            if count == 0 { return 0 }
            guard count > 0 else { return errno }
            var done = 0
            while done < count {
                let n = write(target, buffer.baseAddress! + done, count - done)
                guard n > 0 else { return n == 0 ? ENOSPC : errno }
                done += n
            }
        }
    }

    func isShared(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_nlink > 1
    }

    private func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        return lstat(a, &first) == 0 && lstat(b, &second) == 0 && first.st_dev == second.st_dev
            && first.st_ino == second.st_ino
    }

}
