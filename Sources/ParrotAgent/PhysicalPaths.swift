import ParrotNamespace
import ParrotServices
#if canImport(Glibc)
import Glibc
#endif

/// The kernel keeps a working directory as the directory itself, not as the
/// path used to reach it, and resolves `..` to the real parent of what
/// precedes it: getcwd names no symbolic link, and with `current ->
/// releases/v3`, both `cd current && cat ../shared/x` and `current/../x`
/// mean something under `releases`. Remote paths are the server's to
/// resolve, but `..` must be applied first (a path that leaves the service
/// is local), and the agent did it lexically; here the server is asked
/// about the components that matter. A link to an absolute path (the
/// server's own tree for cctools, refused by the bundled server), or a walk
/// the server refuses (Chirp's lstat asks for the right to list every
/// parent, a plain stat does not), leaves the path as spelled.
extension Agent {
    static let maxLinksFollowed = 40

    /// Why a walk stopped.
    private enum WalkStop: Error {
        /// The kernel's answer for the path: a component missing, no
        /// directory, or links without end.
        case answer(Int32)
        /// `..` above the server's root, to the service's directory: the
        /// components still to go from there.
        case leftServer([Substring])
        /// The walk is no help: the path stays as spelled.
        case unknown
    }

    /// `components` walked from `start` (a directory already walked) on the
    /// server: each one followed when it is a symbolic link and required to
    /// be a directory, `..` the real parent. Returns the path and the last
    /// component's status (nil when the walk ended on `..` or a link).
    private func walk(_ components: [Substring], from start: String,
                      service: FileService) throws(WalkStop) -> (path: String, status: FileStatus?) {
        var done = start
        var pending = Array(components.reversed())
        var links = 0
        var last: FileStatus?
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                guard done != "/" else { throw .leftServer(pending.reversed()) }
                done = AttributeCache.parent(of: done)
                last = nil
                continue
            }
            let next = PathName.join(done, String(part))
            let status: FileStatus
            do throws(ServiceError) { status = try service.lstat(next) } catch {
                throw error.errno == ENOENT || error.errno == ENOTDIR ? .answer(error.errno) : .unknown
            }
            guard status.isSymbolicLink else {
                guard status.isDirectory else { throw .answer(ENOTDIR) }
                (done, last) = (next, status)
                continue
            }
            links += 1
            guard links <= Self.maxLinksFollowed else { throw .answer(ELOOP) }
            guard let target = try? service.readlink(next), !target.hasPrefix("/") else { throw .unknown }
            pending.append(contentsOf: target.split(separator: "/").reversed())
            last = nil
        }
        return (done, last)
    }

    /// Where to start walking `path`: as far as it goes along `known` (a
    /// directory walked already, the current one: it and its ancestors hold
    /// no link), so that `cd sub`, `cd ..` or `../x` from a remote working
    /// directory ask nothing more.
    private func start(of path: [Substring], _ location: RemoteLocation,
                       known: RemoteLocation?) -> (path: String, consumed: Int) {
        guard let known, known.service == location.service, known.authority == location.authority else { return ("/", 0) }
        let shared = zip(path, known.path.split(separator: "/")).prefix { $0 == $1 }.map(\.0)
        return ("/" + shared.joined(separator: "/"), shared.count)
    }

    /// The directory `location` (normalized) leads to, every link in its
    /// path followed.
    func physicalDirectory(_ location: RemoteLocation, under known: RemoteLocation?,
                           service: FileService) throws(ServiceError) -> RemoteLocation {
        let parts = location.path.split(separator: "/")
        let (from, consumed) = start(of: parts, location, known: known)
        guard service.hasSymbolicLinks,
              let (path, status) = try? walk(Array(parts.dropFirst(consumed)), from: from, service: service) else {
            guard try service.stat(location.path).isDirectory else { throw ServiceError(errno: ENOTDIR) }
            return location
        }
        if status == nil {
            guard try service.stat(path).isDirectory else { throw ServiceError(errno: ENOTDIR) }
        }
        return RemoteLocation(service: location.service, authority: location.authority, path: path)
    }

    /// The kernel's answer for a path, found by a walk.
    struct Refusal: Error {
        let errno: Int32
    }

    /// Servers a path may pass through with `..` before the rest stays lexical.
    static let maxServersWalked = 8

    /// `resolution` with each `..` of its server's path applied to the real
    /// parent of what precedes it (`known`: the remote working directory);
    /// the components after the last `..` stay the server's to resolve (a
    /// final link followed or not by the call), and what leaves the server
    /// is the program's view again, resolved anew (and walked again when it
    /// enters a server with `..`, up to maxServersWalked). The kernel's
    /// answer instead when a server says a component before a `..` is
    /// missing or no directory.
    func physicalParents(_ resolution: Resolution, known: RemoteLocation?, follow: Bool,
                         trailingSlash: Bool) -> ResolveOutcome {
        var current = resolution
        for _ in 0..<Self.maxServersWalked {
            guard let path = parentsWalked(current, known: known) else { break }
            switch path {
            case .failure(let refusal): return .failed(refusal.errno)
            case .success(var path):
                // The slash asks for a directory: the kernel still judges it where the path is local.
                if trailingSlash && !path.hasSuffix("/") { path += "/" }
                // The mount list and the services decide the new path's entry.
                switch resolver.resolve(path, followFinal: follow) {
                case .failed(let errno): return .failed(errno)
                case .resolved(let again):
                    current = Resolution(hostPath: again.hostPath, virtualPath: again.virtualPath, entry: again.entry,
                                         translated: true, remote: again.remote, remoteSpelling: again.remoteSpelling)
                }
            }
        }
        return .resolved(current)
    }

    /// The program-view path `resolution` names once its server's `..` are
    /// walked; nil when that changes nothing (or the server cannot tell).
    private func parentsWalked(_ resolution: Resolution, known: RemoteLocation?) -> Result<String, Refusal>? {
        guard let spelled = resolution.remoteSpelling, let service = try? services.driver(for: spelled),
              service.hasSymbolicLinks else { return nil }
        let parts = spelled.path.split(separator: "/")
        guard let lastUp = parts.lastIndex(of: "..") else { return nil }
        let (from, consumed) = start(of: Array(parts[...lastUp]), spelled, known: known)
        let after = parts[(lastUp + 1)...]
        let path: String
        do throws(WalkStop) {
            let directory = try walk(Array(parts[consumed...lastUp]), from: from, service: service).path
            path = RemoteLocation(service: spelled.service, authority: spelled.authority,
                                  path: PathName.normalize(directory + "/" + after.joined(separator: "/"))).virtualPath
        } catch {
            switch error {
            case .answer(let errno): return .failure(Refusal(errno: errno))
            case .unknown: return nil
            case .leftServer(let rest): path = "/" + spelled.service + "/" + (rest + after).joined(separator: "/")
            }
        }
        return path == resolution.virtualPath ? nil : .success(path)
    }
}
