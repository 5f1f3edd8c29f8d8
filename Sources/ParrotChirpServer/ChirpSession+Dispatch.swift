/// Request words to operations (protocols/chirp.md §6).
extension ChirpSession {
    /// A ChirpFailure thrown before anything was sent becomes the reply; any
    /// other error ends the connection.
    mutating func handle(_ request: ChirpRequestLine) async throws {
        let failure: ChirpFailure
        do {
            if let operation = try pathOperation(request) {
                try await reply(try await blocking(operation))
            } else {
                try await streamingOrDescriptorOperation(request)
            }
            return
        } catch let error as ChirpFailure {
            failure = error
        }
        try await reply(ChirpReply(failure))
    }

    /// The operations that need nothing but the request line and one blocking call.
    private func pathOperation(_ r: ChirpRequestLine) throws(ChirpFailure) -> (@Sendable () throws(ChirpFailure) -> ChirpReply)? {
        let fs = context.fileSystem, who = subject
        switch r.command {
        case "stat", "lstat":
            try r.expect(1)
            let path = try r.path(0), follow = r.command == "stat"
            return { () throws(ChirpFailure) in try fs.stat(path, who, follow: follow) }
        case "statfs":
            try r.expect(1)
            let path = try r.path(0)
            return { () throws(ChirpFailure) in try fs.statfs(path, who) }
        case "access":
            try r.expect(2)
            let path = try r.path(0), mode = try r.integer(1)
            return { () throws(ChirpFailure) in try fs.checkAccess(path, mode: mode, who) }
        case "getdir", "getlongdir":
            try r.expect(1)
            let path = try r.path(0), long = r.command == "getlongdir"
            return { () throws(ChirpFailure) in long ? try fs.getlongdir(path, who) : try fs.getdir(path, who) }
        case "mkdir":
            try r.expect(2)
            let path = try r.path(0), mode = try r.integer(1)
            return { () throws(ChirpFailure) in try fs.mkdir(path, mode: mode, who) }
        case "rmdir", "unlink", "rmall":
            try r.expect(1)
            let path = try r.path(0), command = r.command
            return { () throws(ChirpFailure) in
                switch command {
                case "rmdir": try fs.rmdir(path, who)
                case "unlink": try fs.unlink(path, who)
                default: try fs.rmall(path, who)
                }
            }
        case "rename", "link":
            try r.expect(2)
            let from = try r.path(0), to = try r.path(1), isRename = r.command == "rename"
            return { () throws(ChirpFailure) in isRename ? try fs.rename(from, to: to, who) : try fs.link(from, to: to, who) }
        case "symlink":
            try r.expect(2)
            let target = try r.word(0), path = try r.path(1)
            return { () throws(ChirpFailure) in try fs.symlink(target: target, at: path, who) }
        case "readlink":
            try r.expect(2)
            let path = try r.path(0), length = try r.integer(1)
            return { () throws(ChirpFailure) in try fs.readlink(path, maxLength: length, who) }
        case "truncate":
            try r.expect(2)
            let path = try r.path(0), length = try r.integer(1)
            return { () throws(ChirpFailure) in try fs.truncate(path, length: length, who) }
        case "utime":
            try r.expect(3)
            let path = try r.path(0), atime = try r.integer(1), mtime = try r.integer(2)
            return { () throws(ChirpFailure) in try fs.utime(path, access: atime, modification: mtime, who) }
        case "chmod":
            try r.expect(2)
            let path = try r.path(0), mode = try r.integer(1)
            return { () throws(ChirpFailure) in try fs.chmod(path, mode: mode, who) }
        case "chown", "lchown":
            try r.expect(3)
            _ = (try r.integer(1), try r.integer(2))
            let path = try r.path(0), follow = r.command == "chown"
            return { () throws(ChirpFailure) in try fs.chown(path, who, follow: follow) }
        case "md5":
            try r.expect(1)
            let path = try r.path(0)
            return { () throws(ChirpFailure) in try fs.digest(path, algorithm: "md5", who) }
        case "hash":
            try r.expect(2)
            let algorithm = try r.word(0), path = try r.path(1)
            return { () throws(ChirpFailure) in try fs.digest(path, algorithm: algorithm, who) }
        case "getacl":
            try r.expect(1)
            let path = try r.path(0)
            return { () throws(ChirpFailure) in try fs.getacl(path) }
        case "setacl":
            try r.expect(3)
            let path = try r.path(0), entry = try r.word(1), rights = try r.word(2)
            return { () throws(ChirpFailure) in try fs.setacl(path, entry: entry, rights: rights, who) }
        case "resetacl":
            try r.expect(2)
            let path = try r.path(0), rights = try r.word(1)
            return { () throws(ChirpFailure) in try fs.resetacl(path, rights: rights, who) }
        default:
            return nil
        }
    }

    private mutating func streamingOrDescriptorOperation(_ r: ChirpRequestLine) async throws {
        switch r.command {
        case "whoami":
            try r.expect(1)
            let length = try r.integer(0)
            guard length >= 0 else { throw ChirpFailure(EINVAL) }
            try await reply(ChirpReply(counted: Array(subject.utf8.prefix(Int(min(length, Int64(Int32.max)))))))
        case "open": try await open(r)
        case "close", "fstat", "fstatfs", "fsync", "ftruncate", "fchmod", "fchown": try await descriptorOperation(r)
        case "pread": try await pread(r)
        case "pwrite": try await pwrite(r)
        case "getfile": try await getfile(r)
        case "putfile": try await putfile(r)
        default: try await unsupported(r)
        }
    }

    /// Known requests this server does not offer get NOT_SUPPORTED (-23), after
    /// their payload is read so that the stream stays in step. Unknown words get
    /// INVALID_REQUEST (-8), the reference server's answer to them.
    private mutating func unsupported(_ r: ChirpRequestLine) async throws {
        let payloadArgument: [Substring: Int] = [
            "swrite": 1, "setxattr": 2, "lsetxattr": 2, "fsetxattr": 2, "job_create": 0, "ticket_register": 2,
        ]
        let known: Set<Substring> = [
            "sread", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
            "removexattr", "lremovexattr", "fremovexattr", "getstream", "putstream", "thirdput", "whoareyou",
            "localpath", "audit", "mkalloc", "lsalloc", "search", "setrep", "debug", "ticket_delete",
            "ticket_modify", "ticket_get", "ticket_list", "job_commit", "job_kill", "job_status", "job_wait", "job_reap",
        ]
        if let index = payloadArgument[r.command] {
            let length = (try? r.integer(index)) ?? -1
            if length > 0 {
                guard try await inbound.discard(length) else { throw ChirpConnectionBroken(reason: "client left during \(r.command)") }
            }
            try await reply(ChirpReply(ChirpFailure(ENOTSUP)))
        } else {
            try await reply(ChirpReply(result: known.contains(r.command) ? ChirpFailure(ENOTSUP).code : ChirpResultCode.invalidRequest))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
