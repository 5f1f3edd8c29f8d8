#if canImport(Glibc)
import Glibc
#endif

/// What the resolver needs from the host filesystem (a protocol so that tests
/// can describe a tree without touching disk).
public protocol HostFileSystem {
    /// nil when the path does not exist (or cannot be examined).
    func kind(ofHostPath path: String) -> HostFileKind?
    func readLink(hostPath path: String) -> String?
}

public enum HostFileKind: Sendable { case directory, symlink, other }

/// The result of resolving one path of the program's view.
public struct Resolution: Equatable, Sendable {
    /// The path to hand to the kernel.
    public let hostPath: String
    /// The program's view of the resolved path (symlinks resolved, `..` applied).
    public let virtualPath: String
    /// The entry governing the final path, if any.
    public let entry: MountEntry?
    /// Some component went through a mount entry: the host path differs from
    /// what the kernel would resolve on its own.
    public let translated: Bool
    /// Set when the path leads into a remote service: the agent emulates the
    /// call instead of handing `hostPath` to the kernel.
    public let remote: RemoteLocation?
    /// A server's path as spelled (its `path` not normalized), when `..`
    /// follows a component of it: the resolution applied it lexically (and
    /// may have left the server so), where the kernel would go to the real
    /// parent of a symbolic link's target, which only the server can tell.
    public let remoteSpelling: RemoteLocation?

    public init(hostPath: String, virtualPath: String, entry: MountEntry?, translated: Bool,
                remote: RemoteLocation? = nil, remoteSpelling: RemoteLocation? = nil) {
        self.hostPath = hostPath
        self.virtualPath = virtualPath
        self.entry = entry
        self.translated = translated || remote != nil
        self.remote = remote
        self.remoteSpelling = remoteSpelling
    }

    public var mode: AccessMode { entry?.mode ?? .all }
}

public enum ResolveOutcome: Equatable, Sendable {
    case resolved(Resolution)
    case failed(Int32)
}

/// Resolves paths of the program's view through the mount table, following
/// symlinks in the program's view (so an absolute link target inside a
/// redirected tree means the program's path, as it would under a real mount).
public struct PathResolver {
    public let table: MountTable
    /// First components that name remote services (`chirp`, ...).
    public let services: Set<String>
    let fs: HostFileSystem
    static let maxLinks = 40

    public init(table: MountTable, services: Set<String> = [], fs: HostFileSystem = RealHostFileSystem()) {
        self.table = table
        self.services = services
        self.fs = fs
    }

    /// With no mount entries a path can only mean something other than what the
    /// kernel makes of it when it names a service. Symlinks are left to the kernel
    /// then (a local symlink into a service is followed only with a mount list).
    public func needsWalk(_ path: String) -> Bool {
        if !table.isTrivial { return true }
        return services.contains { Self.mentions(path.utf8, $0.utf8) }
    }

    /// `/SERVICE/AUTHORITY[/PATH]` with no empty, `.` or `..` component and no
    /// trailing slash: the location, read straight off the bytes (on every
    /// remote call: no splitting, no hashing, the service's own name reused).
    static func plainServicePath(_ path: String, services: Set<String>) -> RemoteLocation? {
        let found = path.utf8.withContiguousStorageIfAvailable { bytes -> (String, Int?)? in
            let slash = UInt8(ascii: "/")
            guard bytes.count > 1, bytes[0] == slash, bytes[bytes.count - 1] != slash else { return nil }
            let serviceEnd = bytes[1...].firstIndex(of: slash) ?? bytes.count
            let name = UnsafeBufferPointer(rebasing: bytes[1..<serviceEnd])
            guard let service = services.first(where: { $0.utf8.elementsEqual(name) }), serviceEnd < bytes.count else { return nil }
            var previous: UInt8 = 0
            for byte in bytes {
                // "//", "/." (covers "/./", "/../" and a final "/." or "/..").
                if previous == slash && (byte == slash || byte == UInt8(ascii: ".")) { return nil }
                previous = byte
            }
            return (service, bytes[(serviceEnd + 1)...].firstIndex(of: slash))
        } ?? nil
        guard let (service, pathStart) = found else { return nil }
        let utf8 = path.utf8
        let authorityStart = utf8.index(utf8.startIndex, offsetBy: service.utf8.count + 2)
        let authorityEnd = pathStart.map { utf8.index(utf8.startIndex, offsetBy: $0) } ?? utf8.endIndex
        return RemoteLocation(service: service, authority: String(path[authorityStart..<authorityEnd]),
                              path: pathStart == nil ? "/" : String(path[authorityEnd...]))
    }

    private static func mentions(_ path: String.UTF8View, _ name: String.UTF8View) -> Bool {
        guard let first = name.first else { return false }
        var index = path.startIndex
        while let found = path[index...].firstIndex(of: first) {
            if path[found...].starts(with: name) { return true }
            index = path.index(after: found)
        }
        return false
    }

    /// - Parameters:
    ///   - path: an absolute path of the program's view (unnormalized).
    ///   - followFinal: follow a symlink in the last component.
    public func resolve(_ path: String, followFinal: Bool) -> ResolveOutcome {
        if table.isTrivial, let remote = Self.plainServicePath(path, services: services) {
            // Already normalized and naming a service: nothing to walk, and
            // the path is the location's own view of itself.
            return .resolved(Resolution(hostPath: path, virtualPath: path, entry: nil,
                                        translated: true, remote: remote))
        }
        guard needsWalk(path) else {
            return .resolved(Resolution(hostPath: path, virtualPath: path, entry: nil, translated: false))
        }
        var done: [Substring] = []
        // The resolved path so far ("/a/b"), and where each component starts in it,
        // kept in step with `done` so no component rebuilds the whole string.
        var virtual = "/"
        var lengths: [Int] = []  // UTF-8 length of `virtual` before each component
        func push(_ part: Substring) {
            lengths.append(virtual.utf8.count)
            virtual += (done.isEmpty ? "" : "/") + part
            done.append(part)
        }
        func pop() {
            guard let length = lengths.popLast() else { return }
            done.removeLast()
            virtual = String(decoding: virtual.utf8.prefix(length), as: UTF8.self)
        }
        func clear() {
            done.removeAll()
            lengths.removeAll()
            virtual = "/"
        }
        // Pending components, last element next.
        var pending: [Substring] = path.split(separator: "/").reversed()
        let trailingSlash = path.hasSuffix("/") && path.utf8.count > 1
        var links = 0
        var translated = false
        var missing = false  // the last examined component does not exist
        var spelling: RemoteLocation?  // see Resolution.remoteSpelling

        func isLast() -> Bool { !pending.contains { $0 != "." && !$0.isEmpty } }

        while let part = pending.popLast() {
            if part.isEmpty || part == "." { continue }
            if part == ".." {
                // The kernel refuses ".." after a missing directory.
                if missing { return .failed(ENOENT) }
                pop()
                continue
            }
            push(part)
            let host: String, entry: MountEntry?
            switch table.translate(virtual) {
            case .refused(let errno): return .failed(errno)
            case .host(let h, let e): (host, entry) = (h, e)
            }
            let redirected = entry.map { $0.target != .local } ?? false
            translated = translated || redirected
            if RemoteLocation.isRemote(host, services: services) {
                // `/chirp/..` leaves the agent's own level at once, so that
                // what follows is resolved as any path is (links followed).
                if pending.last(where: { $0 != "." && !$0.isEmpty }) == ".." {
                    missing = false
                    translated = true  // the kernel has no such directory to go through
                    continue
                }
                // The rest is the server's to resolve; `..` is applied lexically
                // and may lead back out of the service.
                let rest = pending.reversed().joined(separator: "/")
                // Through a mount entry, `..` above its prefix leaves the mount,
                // in the program's view, as it would leave a real mount.
                if redirected, let entry, pending.contains(".."),
                   case let above = PathName.normalize(virtual + "/" + rest), !PathName.isWithin(above, entry.prefix) {
                    clear()
                    pending = above.split(separator: "/").reversed()
                    missing = false
                    continue
                }
                let whole = PathName.normalize(rest.isEmpty ? host : host + "/" + rest)
                if !redirected, pending.contains("..") { spelling = Self.spelling(host + "/" + rest, services: services) }
                if let remote = RemoteLocation(normalized: whole, services: services) {
                    let virtualWhole = redirected ? PathName.normalize(rest.isEmpty ? virtual : virtual + "/" + rest)
                                                  : remote.virtualPath
                    return .resolved(Resolution(hostPath: whole, virtualPath: virtualWhole, entry: entry,
                                                translated: true, remote: remote, remoteSpelling: spelling))
                }
                clear()
                pending = whole.split(separator: "/").reversed()
                missing = false
                translated = true
                continue
            }
            // /proc holds magic links (fd, cwd, exe): the kernel resolves those.
            if done.first == "proc" && !redirected {
                let rest = pending.reversed().joined(separator: "/")
                let tail = rest.isEmpty ? "" : "/" + rest
                return .resolved(Resolution(hostPath: host + tail + (trailingSlash && !rest.isEmpty ? "/" : ""),
                                            virtualPath: virtual + tail, entry: entry, translated: translated))
            }
            if isLast() && !followFinal && !trailingSlash { break }
            switch fs.kind(ofHostPath: host) {
            case .symlink?:
                links += 1
                guard links <= Self.maxLinks, let target = fs.readLink(hostPath: host) else {
                    return .failed(ELOOP)
                }
                pop()
                if target.hasPrefix("/") { clear() }
                pending.append(contentsOf: target.split(separator: "/").reversed())
                missing = false
            case nil:
                missing = true
            default:
                missing = false
            }
        }
        var host: String, entry: MountEntry?
        switch table.translate(virtual) {
        case .refused(let errno): return .failed(errno)
        case .host(let h, let e): (host, entry) = (h, e)
        }
        if trailingSlash && host != "/" { host += "/" }
        return .resolved(Resolution(hostPath: host, virtualPath: virtual, entry: entry, translated: translated,
                                    remoteSpelling: spelling))
    }

    /// SERVICE/AUTHORITY and the path after it as spelled, when `..` comes
    /// after the authority.
    private static func spelling(_ path: String, services: Set<String>) -> RemoteLocation? {
        let parts = path.split(separator: "/")
        var top: [Substring] = [], index = 0
        while top.count < 2, index < parts.count {
            if parts[index] == ".." { _ = top.popLast() } else if parts[index] != "." { top.append(parts[index]) }
            index += 1
        }
        guard top.count == 2, services.contains(String(top[0])), parts[index...].contains("..") else { return nil }
        return RemoteLocation(service: String(top[0]), authority: String(top[1]),
                              path: "/" + parts[index...].joined(separator: "/"))
    }
}

/// The host filesystem as the agent sees it (same uid as the program).
public struct RealHostFileSystem: HostFileSystem {
    public init() {}

    public func kind(ofHostPath path: String) -> HostFileKind? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFLNK: return .symlink
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    public func readLink(hostPath path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
