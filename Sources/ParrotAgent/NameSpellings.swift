import ParrotNamespace
import ParrotServices

/// One directory entry has many spellings when a symbolic link leads to a
/// directory (`sub -> .` makes `sub/a` the entry `a`; so does a remote cwd
/// entered through such a link). What is open here is known under the
/// spelling it was opened with; a removal or rename spelled otherwise must
/// still reach it, or a copy being written would go back at its close and
/// make the removed name again.
extension Agent {
    /// The spelling under which something open here (a descriptor, a copy
    /// being written, or a file under a directory) names the entry
    /// `location` names; `location` itself when nothing open names it
    /// otherwise. The server is asked only when an open spelling ends in
    /// the same name under another directory: whether the two directories
    /// are one.
    func spelledAsOpen(_ location: RemoteLocation, service: FileService) -> RemoteLocation {
        guard let (directory, name) = PathName.split(location.path) else { return location }
        var others = Set<String>()
        var spelledSo = false
        func consider(_ open: RemoteLocation) {
            guard !spelledSo, open.service == location.service, open.authority == location.authority else { return }
            var path = open.path
            while let (parent, last) = PathName.split(path) {
                if path == location.path {
                    spelledSo = true
                    return
                }
                if last == name && parent != directory { others.insert(path) }
                path = parent
            }
        }
        forEachOpenFile { if !$0.isDetached { consider($0.location) } }
        writeBack?.locations.forEach(consider)
        guard !spelledSo, !others.isEmpty,
              let here = try? service.stat(directory), here.isDirectory, let same = FileIdentity(here) else { return location }
        for other in others.sorted() {
            guard let (otherDirectory, _) = PathName.split(other),
                  let there = try? service.stat(otherDirectory), FileIdentity(there) == same else { continue }
            return RemoteLocation(service: location.service, authority: location.authority, path: other)
        }
        return location
    }
}
