#if canImport(Glibc)
import Glibc
#endif
import ParrotServices

/// A server (scheme, host, port) and a request target on it.
struct HTTPLocation: Equatable, Sendable, CustomStringConvertible {
    var secure: Bool
    var host: String
    var port: UInt16
    /// Path (percent-encoded) and query, as sent in the request line.
    var target: String

    var scheme: String { secure ? "https" : "http" }
    var origin: String { "\(scheme)://\(hostPort)" }
    var hostPort: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }
    var description: String { origin + target }
    /// The decoded path, without the query.
    var path: String { HTTPLocation.decode(String(target.prefix { $0 != "?" })) }

    /// `host`, `host:port` or `[v6]:port` of a /http or /https path.
    static func server(authority: String, secure: Bool) -> (host: String, port: UInt16)? {
        var host = Substring(authority), port: UInt16 = secure ? 443 : 80
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = UInt16(rest.dropFirst()), number > 0 else { return nil }
                port = number
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = UInt16(host[host.index(after: colon)...]), number > 0 else { return nil }
            port = number
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@") else { return nil }
        return (String(host), port)
    }

    /// An absolute URL (http: or https: only).
    init?(url: String) {
        let secure: Bool
        let rest: Substring
        if url.lowercased().hasPrefix("http://") { secure = false; rest = url.dropFirst(7) }
        else if url.lowercased().hasPrefix("https://") { secure = true; rest = url.dropFirst(8) }
        else { return nil }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        guard let (host, port) = Self.server(authority: String(rest[..<authorityEnd]), secure: secure) else { return nil }
        let target = rest[authorityEnd...]
        self.init(secure: secure, host: host, port: port, target: target.hasPrefix("/") ? String(target) : "/" + target)
    }

    init(secure: Bool, host: String, port: UInt16, target: String) {
        self.secure = secure
        self.host = host
        self.port = port
        self.target = target
    }

    /// Where a Location header (absolute, //host, /path or relative) points from here.
    func resolving(_ reference: String) -> HTTPLocation? {
        if let absolute = HTTPLocation(url: reference) { return absolute }
        if reference.hasPrefix("//") { return HTTPLocation(url: scheme + ":" + reference) }
        var copy = self
        let reference = String(reference.prefix { $0 != "#" })
        if reference.hasPrefix("/") {
            copy.target = reference
        } else {
            let directory = target.prefix { $0 != "?" }
            copy.target = String(directory[...(directory.lastIndex(of: "/") ?? directory.startIndex)]) + reference
        }
        return copy
    }

    /// A service path as a request target: every byte but unreserved ones and / encoded.
    static func encode(_ path: String) -> String {
        var result = ""
        for byte in (path.isEmpty ? "/" : path).utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"), UInt8(ascii: "/"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                result += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return result
    }

    /// %XX sequences back to bytes (others left as they are).
    static func decode(_ text: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
               let value = UInt8(String(decoding: utf8[index + 1...index + 2], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
