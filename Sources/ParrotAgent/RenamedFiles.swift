import ParrotNamespace

/// A rename made through the agent moves what is open under the old name
/// (or below it, for a directory), as a local filesystem's descriptors follow
/// their files: later writes and write-backs go to the new name, never to a
/// file made under the old one meanwhile.
extension Agent {
    func moved(_ from: RemoteLocation, to: RemoteLocation) {
        var seen = Set<ObjectIdentifier>()
        for task in tasks.values where seen.insert(ObjectIdentifier(task.process)).inserted {
            let table = task.process.descriptors
            for fd in table.descriptors {
                guard let file = table[fd]?.file, let now = file.location.moved(from: from, to: to) else { continue }
                move(file, to: now)
            }
        }
        copies?.openFiles.forEach { file in
            if let now = file.location.moved(from: from, to: to) { move(file, to: now) }
        }
        writeBack?.moved(from: from, to: to)
    }

    private func move(_ file: OpenFile, to location: RemoteLocation) {
        // Its cache entry would be committed under the old name's key.
        streamedCopies?.drop(file)
        file.location = location
    }
}
