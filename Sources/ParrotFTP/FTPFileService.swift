#if canImport(Glibc)
import Glibc
#endif
import ParrotServices
import Synchronization

/// The FTP and FTPS driver: `/ftp/[user@]HOST[:PORT]/PATH` and `/ftps/...`
/// (README, "FTP and FTPS").
///
/// - stat is one MLST when the server offers it (RFC 3659), else a LIST of
///   the parent and, for files, MDTM for the exact time.
/// - readdir is MLSD, else `LIST -a` parsed as `ls -l` output.
/// - reads stream one RETR (REST for an offset) across sequential reads;
///   writes stream one STOR (APPE for O_APPEND); getFile and putFile are
///   one transfer each.
/// - a catch-all refusal (550 ...) is answered after follow-up questions:
///   FTPErrorInterview.
public final class FTPFileService: FileService {
    /// STOR and APPE write only at the end.
    public var writesAtAnyOffset: Bool { false }
    public var readsInRoundTrips: Bool { false }  // one RETR streams sequential reads
    /// The login is part of it: another user is another view of the server.
    public var endpoint: String? { (server.user.map { $0 + "@" } ?? "") + Self.endpoint(host: server.host, port: server.port) }
    public var listsWithStatus: Bool { false }
    public var hasSymbolicLinks: Bool { true }
    let server: FTPServer
    let pool: FTPConnectionPool
    let openFiles = Mutex(FTPOpenFiles())
    /// Directories the interviews found, for a second: a compiler looking
    /// for headers asks about many missing names in the same directories.
    let directories = FTPDirectoryMemo(lifetime: 1)
    let device: UInt64

    public init(authority: String, secure: Bool, options: FTPOptions = FTPOptions()) throws(ServiceError) {
        server = try FTPServer(authority: authority, secure: secure)
        pool = FTPConnectionPool(server: server, options: options)
        device = NameHash.of(server.description)
    }

    /// Control connections logged in so far (tests count reconnects).
    public var connectionsOpened: Int { pool.connectionsOpened }
    /// Commands sent so far, logins included (each is one round trip).
    public var commandsSent: Int { pool.counter.total }

    // MARK: asking the server

    /// What the server says `path` is: MLST, or the parent's listing.
    func entry(_ path: String, on connection: FTPControlConnection) throws(ServiceError) -> FTPEntry {
        if connection.features.mlst {
            let reply = try connection.command("MLST \(path)")
            // The refusal of MLST answers the first question: it is missing.
            guard reply.code == 250 else { throw failure(.stat, path, reply, on: connection, target: .missing) }
            guard let line = reply.body.first(where: { $0.hasPrefix(" ") }) ?? reply.body.first,
                  var entry = FTPListing.facts(line) else {
                throw ServiceError(errno: EPROTO, message: "\(server)\(path): MLST: \(reply)")
            }
            entry.name = FTPPath.name(path)
            return entry
        }
        if path == "/" { return FTPEntry(name: "/", type: S_IFDIR, size: 0) }
        let parent = FTPPath.parent(path), name = FTPPath.name(path)
        let (listing, refusal) = try listLines(parent, on: connection)
        if let refusal { throw failure(.stat, path, refusal, on: connection) }
        let now = Int64(time(nil))
        let entries = listing.compactMap { FTPListing.unixLine($0, now: now) }
        guard var found = entries.first(where: { $0.name == name && name != "." }) else {
            // Not in the listing: missing. `LIST -a` of a directory shows ".",
            // a parent that is no directory lists as itself, or not at all.
            let missing = FTPReply(code: 550, lines: ["550 (not in the listing of \(parent))"])
            let parentKind: FTPKind? = entries.contains { $0.name == "." } ? .directory : nil
            throw failure(.stat, path, missing, on: connection, target: .missing, parent: parentKind)
        }
        if found.type == S_IFREG && connection.features.mdtm {
            let reply = try connection.command("MDTM \(path)")
            if reply.code == 213, let exact = FTPListing.time(Substring(reply.text)) { found.mtime = exact }
        }
        return found
    }

    /// A listing's lines, or the refusal of the transfer.
    func listLines(_ path: String, on connection: FTPControlConnection) throws(ServiceError) -> ([String], FTPReply?) {
        let command = connection.features.mlst ? "MLSD \(path)" : "LIST -a \(path)"
        let transfer: FTPTransfer
        switch try startTransfer(command, at: 0, on: connection) {
        case .refused(let reply): return ([], reply)
        case .started(let started): transfer = started
        }
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { chunk.deallocate() }
        while let data = transfer.data {
            let count = try data.receive(into: chunk)
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= 64 << 20 else {
                connection.abandon()
                throw ServiceError(errno: EFBIG, message: "\(server)\(path): listing over 64 MiB")
            }
        }
        try finish(transfer, operation: .list, path: path)
        let text = String(decoding: bytes, as: UTF8.self)
        return (text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }, nil)
    }

    func status(_ entry: FTPEntry, path: String) -> FileStatus {
        let mtime = Timestamp(seconds: entry.mtime ?? 0)
        let isDirectory = entry.type == S_IFDIR
        return FileStatus(dev: device, ino: NameHash.of(path), mode: entry.type | entry.permissionBits,
                          nlink: isDirectory ? 2 : 1, uid: getuid(), gid: getgid(), rdev: 0, size: entry.size,
                          atime: mtime, mtime: mtime, ctime: mtime, blksize: 1 << 16, blocks: FileStatus.allocatedBlocks(forSize: entry.size))
    }

    // MARK: errors

    /// The errno for a refusal, after the questions its row needs.
    /// `target` and `parent`: answers already known, not asked again.
    func failure(_ operation: FTPOperation, _ path: String, _ reply: FTPReply, on connection: FTPControlConnection,
                 source: String? = nil, target: FTPKind? = nil, parent: FTPKind? = nil) -> ServiceError {
        var findings: FTPFindings? = nil
        if FTPErrorInterview.needsFindings(operation, reply), !connection.isBroken {
            findings = try? interview(operation, path, on: connection, source: source, target: target, parent: parent)
        }
        // The row's reason goes into the message: logs and tests see which row decided.
        let rule = FTPErrorInterview.firstRule(operation, reply, findings: findings)
        let code = rule?.errno ?? FTPErrorInterview.errno(operation, reply, findings: findings)
        return ServiceError(errno: code, message: "\(server)\(path): \(reply) (\(rule?.why ?? "no rule"))")
    }

    private func interview(_ operation: FTPOperation, _ path: String, on connection: FTPControlConnection,
                           source: String?, target: FTPKind?, parent: FTPKind?) throws(ServiceError) -> FTPFindings {
        var findings = FTPFindings(target: .missing)
        if let target { findings.target = target } else { findings.target = try kind(path, on: connection) }
        if findings.target == .missing && path != "/" {
            if let parent { findings.parent = parent } else { findings.parent = try kind(FTPPath.parent(path), on: connection) }
        }
        if (operation == .rmdir || operation == .renameTarget) && findings.target == .directory {
            findings.hasEntries = try listLines(path, on: connection).0.contains { line in
                let name = connection.features.mlst ? FTPListing.facts(line)?.name : FTPListing.unixLine(line, now: 0)?.name
                return name != nil && name != "." && name != ".."
            }
        }
        if operation == .renameTarget, let source { findings.source = try kind(source, on: connection) }
        return findings
    }

    /// Is `path` a file, a directory or nothing? MLST; else CWD, SIZE, and
    /// the parent's listing for what neither can see (an unreadable directory).
    func kind(_ path: String, on connection: FTPControlConnection) throws(ServiceError) -> FTPKind {
        if path == "/" || directories.contains(path) { return .directory }
        let answer = try askKind(path, on: connection)
        if answer == .directory { directories.remember(path) }
        return answer
    }

    private func askKind(_ path: String, on connection: FTPControlConnection) throws(ServiceError) -> FTPKind {
        if connection.features.mlst {
            let reply = try connection.command("MLST \(path)")
            guard reply.code == 250, let line = reply.body.first, let entry = FTPListing.facts(line) else { return .missing }
            return entry.type == S_IFDIR ? .directory : .file
        }
        if try connection.command("CWD \(path)").code == 250 { return .directory }
        if try connection.command("SIZE \(path)").code == 213 { return .file }
        let (lines, refusal) = try listLines(FTPPath.parent(path), on: connection)
        guard refusal == nil else { return .missing }
        let name = FTPPath.name(path)
        guard let found = lines.lazy.compactMap({ FTPListing.unixLine($0, now: 0) }).first(where: { $0.name == name }) else { return .missing }
        return found.type == S_IFDIR ? .directory : .file
    }

    /// A command that must complete (2xx), else the interview's errno.
    func run(_ text: String, _ operation: FTPOperation, _ path: String, idempotent: Bool) throws(ServiceError) {
        if operation == .rmdir { directories.forget() }
        try pool.perform(idempotent: idempotent) { (connection) throws(ServiceError) in
            let reply = try connection.command(text)
            guard reply.isCompletion else { throw failure(operation, path, reply, on: connection) }
        }
    }
}

/// Paths as the driver sends them: absolute, from the login's root.
enum FTPPath {
    static func parent(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/"), slash != trimmed.startIndex else { return "/" }
        return String(trimmed[..<slash])
    }

    static func name(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        return String(trimmed.split(separator: "/").last ?? "/")
    }

    static func child(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// Paths known to be directories, each for `lifetime` seconds; forgotten
/// whenever this driver removes or renames something (stores and mkdir
/// cannot make a directory anything else).
final class FTPDirectoryMemo: Sendable {
    private let lifetime: Double
    private let known = Mutex([String: Deadline]())

    init(lifetime: Double) { self.lifetime = lifetime }

    func contains(_ path: String) -> Bool {
        known.withLock { ($0[path].map { !$0.hasPassed }) ?? false }
    }

    func remember(_ path: String) {
        let until = Deadline.after(seconds: lifetime)
        known.withLock { $0[path] = until }
    }

    func forget() { known.withLock { $0.removeAll() } }
}
