/// A place in a remote service, named in the program's view as
/// `/SERVICE/AUTHORITY/PATH` (e.g. `/chirp/127.0.0.1:9094/data/x`).
public struct RemoteLocation: Hashable, Sendable, CustomStringConvertible {
    /// The service's name, the first component (`chirp`).
    public let service: String
    /// `host[:port]` or `user@host[:port]`; empty for the bare `/SERVICE`
    /// directory, which lists as empty.
    public let authority: String
    /// The path inside the service: absolute, normalized lexically.
    public let path: String

    public init(service: String, authority: String, path: String) {
        self.service = service
        self.authority = authority
        self.path = authority.isEmpty ? "/" : path
    }

    /// The bare `/SERVICE` directory.
    public var isServiceRoot: Bool { authority.isEmpty }

    /// Where this is after `from` was renamed to `to` on the same server
    /// (nil when it is neither `from` nor under it).
    public func moved(from: RemoteLocation, to: RemoteLocation) -> RemoteLocation? {
        guard service == from.service, authority == from.authority,
              let moved = PathName.moved(path, from: from.path, to: to.path) else { return nil }
        return RemoteLocation(service: to.service, authority: to.authority, path: moved)
    }

    /// The program's view of this place.
    public var virtualPath: String {
        if authority.isEmpty { return "/" + service }
        return "/" + service + "/" + authority + (path == "/" ? "" : path)
    }

    public var description: String { virtualPath }

    /// The location a normalized absolute path of the program's view names,
    /// when its first component is one of `services`.
    public init?(normalized path: String, services: Set<String>) {
        var parts = path.utf8.split(separator: UInt8(ascii: "/"))[...]
        guard let first = parts.popFirst(), case let service = String(decoding: first, as: UTF8.self),
              services.contains(service) else { return nil }
        let authority = parts.popFirst().map { String(decoding: $0, as: UTF8.self) } ?? ""
        let rest = parts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        self.init(service: service, authority: authority, path: "/" + rest)
    }

    /// Whether a normalized path falls under one of `services` (cheap: no allocation).
    public static func isRemote(_ path: String, services: Set<String>) -> Bool {
        guard !services.isEmpty, path.utf8.first == UInt8(ascii: "/") else { return false }
        let first = path.utf8.dropFirst().prefix { $0 != UInt8(ascii: "/") }
        return services.contains(String(decoding: first, as: UTF8.self))
    }
}
