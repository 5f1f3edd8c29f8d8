import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The server's side of the negotiation (protocols/chirp.md §2): the client
/// proposes methods, one a line, until one registered here succeeds.
struct ChirpAuthenticator: Sendable {
    let methods: [ChirpAuthMethod]
    let challengeDirectory: String
    let challengeTimeout: Double
    let pool: NIOThreadPool

    /// The subject, `method:name`; nil if the client went away first.
    func negotiate(_ inbound: inout ChirpInbound, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                   peer: SocketAddress?) async throws -> String? {
        while let proposal = try await inbound.line() {
            guard let method = ChirpAuthMethod(rawValue: proposal), methods.contains(method) else {
                try await outbound.write(ByteBuffer(string: "no\n"))
                continue
            }
            try await outbound.write(ByteBuffer(string: "yes\n"))
            let name: String? = switch method {
            case .address: try await address(peer, outbound)
            case .hostname: try await hostname(peer, outbound)
            case .unix: try await unix(&inbound, outbound)
            }
            guard let name else { continue }
            let subject = ChirpAuthenticator.sanitized(name)
            try await outbound.write(ByteBuffer(string: "yes\n\(method.rawValue)\n\(subject)\n"))
            return "\(method.rawValue):\(subject)"
        }
        return nil
    }

    private func address(_ peer: SocketAddress?, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> String? {
        guard let ip = peer?.ipAddress else {
            try await outbound.write(ByteBuffer(string: "no\n"))
            return nil
        }
        try await outbound.write(ByteBuffer(string: "yes\n"))
        return ip
    }

    /// The peer's name by reverse DNS (127.0.0.1 is usually `localhost`).
    private func hostname(_ peer: SocketAddress?, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> String? {
        let name: String? = if let peer { try await pool.runIfActive { ChirpAuthenticator.reverseLookup(peer) } } else { nil }
        try await outbound.write(ByteBuffer(string: name == nil ? "no\n" : "yes\n"))
        return name
    }

    /// The client proves its uid by creating a file the server names, in a
    /// directory both see; the file's owner is the subject.
    private func unix(_ inbound: inout ChirpInbound, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> String? {
        let path = "\(challengeDirectory)/challenge.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        unlink(path)
        defer { unlink(path) }
        try await outbound.write(ByteBuffer(string: path + "\n"))
        guard try await inbound.line() == "yes" else { return nil }  // the client could not create it
        let timeout = challengeTimeout
        let name = try await pool.runIfActive { ChirpAuthenticator.owner(ofChallenge: path, timeout: timeout) }
        try await outbound.write(ByteBuffer(string: name == nil ? "no\n" : "yes\n"))
        return name
    }

    /// The login name owning the challenge file. Only a plain file with one
    /// link counts: not a symlink, nor a hard link to someone else's file.
    static func owner(ofChallenge path: String, timeout: Double) -> String? {
        var st = stat()
        let deadline = Double(time(nil)) + timeout
        while lstat(path, &st) != 0 {
            guard Double(time(nil)) < deadline else { return nil }
            usleep(50_000)
        }
        guard st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else { return nil }
        return userName(st.st_uid)
    }

    static func userName(_ uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: entry.pw_name)
    }

    static func reverseLookup(_ peer: SocketAddress) -> String? {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = peer.withSockAddr { address, length in
            getnameinfo(address, socklen_t(length), &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
        }
        return status == 0 ? String(cString: host) : nil
    }

    /// Blanks and control characters in a name become `_`, as in the reference server.
    static func sanitized(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { $0.value > 0x20 && $0.value != 0x7F ? $0 : "_" }))
    }
}
