#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// What a refused command was doing.
enum FTPOperation: String, Sendable, CaseIterable {
    case read, write, list, stat, mkdir, rmdir, unlink, renameSource, renameTarget, chmod, utimes
}

/// What a name turned out to be when asked.
enum FTPKind: Sendable, Equatable {
    case missing, file, directory
}

/// The answers to the follow-up questions about a refused path.
struct FTPFindings: Sendable, Equatable {
    var target: FTPKind
    /// Asked when the target is missing or is to be created.
    var parent: FTPKind?
    /// Asked of a directory that rmdir or rename would replace.
    var hasEntries: Bool?
    /// The other name of a rename (RNTO: the source's kind).
    var source: FTPKind?
}

/// FTP's catch-all replies (550 "Requested action not taken", 553, 450,
/// 451 ...) say that something failed, not what. The driver answers them
/// the way a local filesystem would, from follow-up questions (is it a
/// directory? does it exist? does its parent?) asked over the same
/// connection. The whole mapping is this one table; the first row that
/// matches decides.
///
/// One heuristic reads the server's text: a 452 or 552 whose text says
/// "quota" is EDQUOT (servers use both codes for quotas and full disks
/// alike; ENOSPC otherwise). 501 (a rejected argument) is asked about like
/// 550: pyftpdlib answers MLSD of a missing directory with it.
struct FTPErrorRule: Sendable {
    var operations: Set<FTPOperation>?  // nil: any
    var codes: Set<Int>
    var textContains: String? = nil
    /// nil: decided without questions.
    var when: (@Sendable (FTPFindings) -> Bool)? = nil
    var errno: Int32
    var why: String
}

enum FTPErrorInterview {
    static let catchAll: Set<Int> = [450, 451, 501, 550, 553]
    static let noSpace: Set<Int> = [452, 552]
    static let notImplemented: Set<Int> = [500, 502, 504]

    static let table: [FTPErrorRule] = [
        // Said outright: no questions.
        FTPErrorRule(codes: noSpace, textContains: "quota", errno: EDQUOT, why: "the user's quota is used up"),
        FTPErrorRule(codes: noSpace, errno: ENOSPC, why: "insufficient storage (452) or allocation exceeded (552)"),
        FTPErrorRule(codes: [530, 532], errno: EACCES, why: "not logged in, or no account for storing"),
        FTPErrorRule(operations: [.chmod], codes: notImplemented, errno: EPERM, why: "the server does not change modes"),
        FTPErrorRule(codes: notImplemented, errno: ENOTSUP, why: "the server does not offer the command"),
        FTPErrorRule(codes: [421], errno: EAGAIN, why: "the server refuses service for now"),
        // Catch-alls: asked about.
        FTPErrorRule(operations: [.read], codes: catchAll, when: { $0.target == .directory }, errno: EISDIR, why: "reading a directory"),
        FTPErrorRule(operations: [.read, .stat, .list, .unlink, .rmdir, .renameSource, .chmod, .utimes], codes: catchAll,
                     when: { $0.target == .missing && $0.parent == .file }, errno: ENOTDIR, why: "a path through a file"),
        FTPErrorRule(operations: [.read, .stat, .list, .unlink, .rmdir, .renameSource, .chmod, .utimes], codes: catchAll,
                     when: { $0.target == .missing }, errno: ENOENT, why: "no such name"),
        FTPErrorRule(operations: [.mkdir], codes: catchAll, when: { $0.target != .missing }, errno: EEXIST, why: "the name exists"),
        FTPErrorRule(operations: [.write], codes: catchAll, when: { $0.target == .directory }, errno: EISDIR, why: "writing a directory"),
        FTPErrorRule(operations: [.write, .mkdir, .renameTarget], codes: catchAll, when: { $0.parent == .missing },
                     errno: ENOENT, why: "the parent does not exist"),
        FTPErrorRule(operations: [.write, .mkdir, .renameTarget], codes: catchAll, when: { $0.parent == .file },
                     errno: ENOTDIR, why: "the parent is a file"),
        FTPErrorRule(operations: [.list, .rmdir], codes: catchAll, when: { $0.target == .file }, errno: ENOTDIR, why: "not a directory"),
        FTPErrorRule(operations: [.rmdir], codes: catchAll, when: { $0.hasEntries == true }, errno: ENOTEMPTY, why: "the directory has entries"),
        FTPErrorRule(operations: [.unlink], codes: catchAll, when: { $0.target == .directory }, errno: EISDIR, why: "unlink of a directory"),
        FTPErrorRule(operations: [.renameTarget], codes: catchAll, when: { $0.target == .directory && $0.hasEntries == true },
                     errno: ENOTEMPTY, why: "renaming onto a directory that has entries"),
        FTPErrorRule(operations: [.renameTarget], codes: catchAll, when: { $0.target == .directory && $0.source == .file },
                     errno: EISDIR, why: "renaming a file onto a directory"),
        FTPErrorRule(operations: [.renameTarget], codes: catchAll, when: { $0.target == .file && $0.source == .directory },
                     errno: ENOTDIR, why: "renaming a directory onto a file"),
        FTPErrorRule(operations: [.chmod, .utimes], codes: catchAll, when: { _ in true }, errno: EPERM, why: "the server refuses to change it"),
        // It exists and is what the operation needs: the server forbids it.
        FTPErrorRule(codes: catchAll, when: { _ in true }, errno: EACCES, why: "refused although the names are right"),
    ]

    /// Whether rows for this reply need questions answered.
    static func needsFindings(_ operation: FTPOperation, _ reply: FTPReply) -> Bool {
        firstRule(operation, reply, findings: nil) == nil
    }

    /// The row for the reply; with `findings` nil, only rows decided without questions.
    static func firstRule(_ operation: FTPOperation, _ reply: FTPReply, findings: FTPFindings?) -> FTPErrorRule? {
        let text = reply.lines.joined(separator: " ").lowercased()
        return table.first { rule in
            guard rule.operations?.contains(operation) ?? true, rule.codes.contains(reply.code) else { return false }
            if let needle = rule.textContains, !text.contains(needle) { return false }
            guard let condition = rule.when else { return true }
            return findings.map(condition) ?? false
        }
    }

    /// The errno for `reply`, or EIO (4xx) / EPROTO (anything else) when no row matches.
    static func errno(_ operation: FTPOperation, _ reply: FTPReply, findings: FTPFindings?) -> Int32 {
        if let rule = firstRule(operation, reply, findings: findings) { return rule.errno }
        return (400..<500).contains(reply.code) ? EIO : EPROTO
    }
}
