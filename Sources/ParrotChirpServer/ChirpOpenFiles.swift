#if canImport(Glibc)
import Glibc
#endif

/// The files one connection has open. Chirp descriptors are small indexes,
/// lowest free first (the first open returns 0), private to the connection.
struct ChirpOpenFiles {
    /// The reference server's limit; more is EMFILE.
    static let limit = 1024

    private var slots: [Int32?] = []

    /// Takes ownership of `fd`.
    mutating func add(_ fd: Int32) throws(ChirpFailure) -> Int64 {
        if let free = slots.firstIndex(where: { $0 == nil }) {
            slots[free] = fd
            return Int64(free)
        }
        guard slots.count < ChirpOpenFiles.limit else {
            close(fd)
            throw ChirpFailure(EMFILE)
        }
        slots.append(fd)
        return Int64(slots.count - 1)
    }

    /// The kernel descriptor behind a Chirp one, or EBADF.
    func descriptor(_ chirpFD: Int64) throws(ChirpFailure) -> Int32 {
        guard chirpFD >= 0, chirpFD < slots.count, let fd = slots[Int(chirpFD)] else { throw ChirpFailure(EBADF) }
        return fd
    }

    /// Forgets `chirpFD` and hands its kernel descriptor to the caller to close.
    mutating func remove(_ chirpFD: Int64) throws(ChirpFailure) -> Int32 {
        let fd = try descriptor(chirpFD)
        slots[Int(chirpFD)] = nil
        while let last = slots.last, last == nil { slots.removeLast() }
        return fd
    }

    /// At the end of the connection.
    mutating func closeAll() {
        for case let fd? in slots { close(fd) }
        slots = []
    }
}
