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

    /// Why a walk stopped: `errno` is the kernel's answer for the path
    /// (a component missing or no directory); otherwise the walk is no help.
    private struct CannotWalk: Error {
        var errno: Int32? = nil
    }

    /// `components` walked from `start` (a directory already walked) on the
    /// server: each one followed when it is a symbolic link and required to
    /// be a directory, `..` the real parent. Returns the path and the last
    /// component's status (nil when the walk ended on `..` or a link).
    private func walk(_ components: [Substring], from start: String,
                      service: FileService) throws(CannotWalk) -> (path: String, status: FileStatus?) {
        var done = start
        var pending = Array(components.reversed())
        var links = 0
        var last: FileStatus?
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                guard done != "/" else { throw CannotWalk() }  // it would leave the service
                done = AttributeCache.parent(of: done)
                last = nil
                continue
            }
            let next = PathName.join(done, String(part))
            let status: FileStatus
            do throws(ServiceError) { status = try service.lstat(next) } catch {
                throw CannotWalk(errno: error.errno == ENOENT || error.errno == ENOTDIR ? error.errno : nil)
            }
            guard status.isSymbolicLink else {
                guard status.isDirectory else { throw CannotWalk(errno: ENOTDIR) }
                (done, last) = (next, status)
                continue
            }
            links += 1
            guard links <= Self.maxLinksFollowed, let target = try? service.readlink(next),
                  !target.hasPrefix("/") else { throw CannotWalk() }
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

    /// The directory `location` leads to, every link in its path followed.
    func physicalDirectory(_ location: RemoteLocation, under known: RemoteLocation?,
                           service: FileService) throws(ServiceError) -> RemoteLocation {
        let parts = location.path.split(separator: "/")
        let (from, consumed) = start(of: parts, location, known: known)
        guard let (path, status) = try? walk(Array(parts.dropFirst(consumed)), from: from, service: service) else {
            guard try service.stat(location.path).isDirectory else { throw ServiceError(errno: ENOTDIR) }
            return location
        }
        if status == nil {
            guard try service.stat(path).isDirectory else { throw ServiceError(errno: ENOTDIR) }
        }
        return RemoteLocation(service: location.service, authority: location.authority, path: path)
    }

    /// `resolution` with each `..` of its remote path applied to the real
    /// parent of what precedes it; the components after the last `..` stay
    /// the server's to resolve (a final link followed or not by the call).
    /// The kernel's answer instead when the server says a component before
    /// a `..` is missing or no directory.
    func physicalParents(_ resolution: Resolution, task: TaskState) -> ResolveOutcome {
        guard let remote = resolution.remote, let spelling = resolution.remoteSpelling,
              let service = try? services.driver(for: remote) else { return .resolved(resolution) }
        let parts = spelling.split(separator: "/")
        guard let lastUp = parts.lastIndex(of: "..") else { return .resolved(resolution) }
        let (from, consumed) = start(of: Array(parts[...lastUp]), remote, known: task.fs.remoteCwd)
        let directory: String
        do throws(CannotWalk) {
            directory = try walk(Array(parts[consumed...lastUp]), from: from, service: service).path
        } catch {
            return error.errno.map { .failed($0) } ?? .resolved(resolution)
        }
        let path = PathName.normalize(directory + "/" + parts[(lastUp + 1)...].joined(separator: "/"))
        guard path != remote.path else { return .resolved(resolution) }
        let location = RemoteLocation(service: remote.service, authority: remote.authority, path: path)
        return .resolved(Resolution(hostPath: location.virtualPath, virtualPath: location.virtualPath,
                                    entry: resolution.entry, translated: true, remote: location))
    }
}
