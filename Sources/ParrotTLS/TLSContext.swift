import COpenSSL
#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// The OpenSSL client context every TLS connection of a driver shares:
/// peer verification on, against `--ca-file` or the system's store.
/// `label` (https, ftps) names the protocol in errors.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    public let label: String

    public init(caFile: String?, label: String) throws(ServiceError) {
        self.label = label
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw ServiceError(errno: ENOMEM, message: "\(label): cannot make a TLS context: \(TLSContext.lastError())")
        }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        // A server that closes without close_notify ends its stream as any
        // connection close does: the protocol's framing tells truncation.
        _ = SSL_CTX_set_options(context, UInt64(1) << 7)  // SSL_OP_IGNORE_UNEXPECTED_EOF
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw ServiceError(errno: EACCES, message: "\(label): cannot use --ca-file \(caFile): \(TLSContext.lastError())")
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// The oldest queued OpenSSL error, described (and the queue emptied).
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown TLS failure" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One TLS session over a connected socket.
public final class TLSSession {
    let ssl: OpaquePointer

    /// Handshakes with `host`, whose certificate must name it (a DNS name or
    /// an IP address in subjectAltName). `resuming` offers that connection's
    /// session again (FTPS data connections must reuse the control
    /// connection's: vsftpd's require_ssl_reuse).
    public init(context: TLSContext, fd: Int32, host: String, resuming other: TLSSession? = nil) throws(ServiceError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else {
            throw ServiceError(errno: ENOMEM, message: "\(context.label) \(host): \(TLSContext.lastError())")
        }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        if let other, let session = SSL_get1_session(other.ssl) {
            SSL_set_session(ssl, session)  // takes its own reference
            SSL_SESSION_free(session)
        }
        var address = in6_addr()
        let isAddress = inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
        if isAddress {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            SSL_set1_host(ssl, host)
            // SNI: SSL_set_tlsext_host_name is a macro over this.
            _ = host.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
        }
        let result = SSL_connect(ssl)
        guard result == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason: String
            let code: Int32
            if verify != X509_V_OK {
                reason = "certificate verify failed: " + String(cString: X509_verify_cert_error_string(verify))
                code = EACCES
            } else {
                let kind = SSL_get_error(ssl, result)
                let savedErrno = errno
                if kind == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 {
                    reason = "TLS handshake: connection closed (\(savedErrno == 0 ? "end of file" : String(cString: strerror(savedErrno))))"
                    code = savedErrno == EAGAIN ? ETIMEDOUT : ECONNRESET
                } else {
                    reason = "TLS handshake failed: " + TLSContext.lastError()
                    code = EPROTO
                }
            }
            throw ServiceError(errno: code, message: "\(context.label) \(host): \(reason)")  // deinit frees ssl
        }
    }

    deinit { SSL_free(ssl) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ServiceError) -> Int {
        ERR_clear_error()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        return try failure(count, "read")
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws(ServiceError) -> Int {
        ERR_clear_error()
        let count = SSL_write(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 { return Int(count) }
        return try failure(count, "write")
    }

    /// 0 for a clean end of the stream, else the error.
    private func failure(_ result: Int32, _ what: String) throws(ServiceError) -> Int {
        let savedErrno = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_ZERO_RETURN:
            return 0
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            if savedErrno == 0 { return 0 }
            let code = savedErrno == EAGAIN || savedErrno == EWOULDBLOCK ? ETIMEDOUT : savedErrno
            throw ServiceError(errno: code, message: "TLS \(what): \(String(cString: strerror(code)))")
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            throw ServiceError(errno: ETIMEDOUT, message: "TLS \(what): timed out")
        default:
            throw ServiceError(errno: EPROTO, message: "TLS \(what): \(TLSContext.lastError())")
        }
    }

    /// Sends close_notify (an FTPS upload's end must be told apart from a cut).
    public func shutdown() {
        _ = SSL_shutdown(ssl)
    }
}
