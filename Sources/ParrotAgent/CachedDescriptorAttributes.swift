import ParrotNamespace
import ParrotServices
import ParrotTracer
#if canImport(Glibc)
import Glibc
#endif

/// fchmod and futimens on a real descriptor that the cache opened read-only
/// (rsync sets a file's last mode that way, and tar and cp -p its times):
/// the call changes the local copy, and goes to the server first. A copy
/// opened to be written sends such changes itself when it goes back.
extension Agent {
    func installCachedDescriptorAttributeCalls() {
        if let number = policy.byName["fchmod"]?.number, let virtual = handlers[number]?.run {
            install("fchmod") { [unowned self] stop, tracee, task in
                let fd = stop.int32(0)
                if DescriptorTable.isVirtual(fd) { return try virtual(stop, tracee, task) }
                return try alsoOnServer(stop, fd: fd) { (service, path) throws(ServiceError) in
                    try service.chmod(path, mode: UInt32(truncatingIfNeeded: stop.args[1]) & 0o7777)
                }
            }
        }
        // utimensat(fd, NULL, times, 0) is futimens.
        if let number = policy.byName["utimensat"]?.number, let byPath = handlers[number]?.run {
            install("utimensat") { [unowned self] stop, tracee, task in
                let fd = stop.int32(0)
                guard stop.args[1] == 0, fd >= 0, !DescriptorTable.isVirtual(fd) else { return try byPath(stop, tracee, task) }
                return try alsoOnServer(stop, fd: fd) { (service, path) throws(ServiceError) in
                    let (access, modification) = try requestedTimes("utimensat", stop, service: service, path: path)
                    try service.utimes(path, access: access, modification: modification)
                }
            }
        }
    }

    /// Runs `change` on the remote file behind `fd` when it is a cached copy
    /// opened read-only; its refusal fails the call, else the call runs on the copy.
    private func alsoOnServer(_ stop: SyscallStop, fd: Int32,
                              _ change: (FileService, String) throws(ServiceError) -> Void) throws -> Resume {
        guard !cachedNames.isEmpty, fd >= 0,
              let host = RealHostFileSystem().readLink(hostPath: "/proc/\(stop.tid)/fd/\(fd)"),
              let name = cachedNames[host], Self.isOpenReadOnly(stop.tid, fd),
              case .resolved(let resolution) = resolver.resolve(name, followFinal: true),
              let location = resolution.remote, let service = try? services.driver(for: location)
        else { return .proceed }
        do throws(ServiceError) { try change(service, location.path) } catch {
            if log.enabled(.namespace) { log.write("[\(stop.tid)] \(location) through its cached copy: \(error)") }
            try stop.fail(error.errno)
        }
        return .proceed
    }

    /// The access mode in /proc/TID/fdinfo/FD (its "flags:" line, in octal).
    private static func isOpenReadOnly(_ tid: pid_t, _ fd: Int32) -> Bool {
        let info = open("/proc/\(tid)/fdinfo/\(fd)", O_RDONLY | O_CLOEXEC)
        guard info >= 0 else { return false }
        defer { close(info) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = read(info, &bytes, bytes.count)
        guard count > 0 else { return false }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
              let flags = Int32(line.dropFirst(6).filter { $0 != "\t" && $0 != " " }, radix: 8) else { return false }
        return flags & O_ACCMODE == O_RDONLY
    }
}
