import Foundation

/// A comparable description of a directory tree: relative path, type, mode,
/// size and content digest (or link target). Times are left out: two runs
/// never share them.
enum TreeSnapshot {
    static func of(_ root: String, ignoring ignored: Set<String> = []) -> [String] {
        let result = Command.run(["/bin/sh", "-c",
            "cd \"$1\" && find . -mindepth 1 -printf '%p %y %m %s %l\\n' | LC_ALL=C sort && find . -type f -exec md5sum {} + | LC_ALL=C sort -k2",
            "sh", root])
        return result.stdout.split(separator: "\n").map(String.init).filter { line in
            !ignored.contains { line.contains($0) }
        }
    }
}
