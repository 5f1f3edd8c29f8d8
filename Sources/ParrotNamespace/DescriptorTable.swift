import ParrotFilter
/// The virtual descriptors of one process (shared by threads that share their
/// files, copied at fork, thinned at exec), numbered from `base` up, lowest
/// free number first, as the kernel numbers its own.
public final class DescriptorTable {
    public struct Slot {
        public let file: OpenFile
        public var closeOnExec: Bool
    }

    /// The filter's numbers: base up to VirtualDescriptor.end.
    public static var base: Int32 { VirtualDescriptor.base }
    /// Far below what a program could exhaust, far above what any needs.
    public static let limit = 65536
    private var slots: [Int32: Slot] = [:]

    public init() {}

    public static func isVirtual(_ fd: Int32) -> Bool { VirtualDescriptor.isVirtual(fd) }

    public var isEmpty: Bool { slots.isEmpty }
    public var descriptors: [Int32] { slots.keys.sorted() }

    public subscript(fd: Int32) -> Slot? {
        get { slots[fd] }
    }

    public func setCloseOnExec(_ fd: Int32, _ value: Bool) {
        slots[fd]?.closeOnExec = value
    }

    /// The lowest free descriptor at or above `minimum`; nil when the table is full (EMFILE).
    public func insert(_ file: OpenFile, closeOnExec: Bool, atLeast minimum: Int32 = base) -> Int32? {
        guard slots.count < Self.limit else { return nil }
        var fd = max(minimum, Self.base)
        while slots[fd] != nil { fd += 1 }
        guard Int64(fd) < VirtualDescriptor.end else { return nil }
        file.references += 1
        slots[fd] = Slot(file: file, closeOnExec: closeOnExec)
        return fd
    }

    /// Puts `file` at `fd` (dup2), closing what was there; returns the
    /// description that lost its last reference, if any.
    public func place(_ file: OpenFile, at fd: Int32, closeOnExec: Bool) -> OpenFile? {
        file.references += 1
        let replaced = remove(fd)
        slots[fd] = Slot(file: file, closeOnExec: closeOnExec)
        return replaced
    }

    /// Closes `fd`; returns the description when that was its last reference
    /// (the caller closes it at the service).
    @discardableResult
    public func remove(_ fd: Int32) -> OpenFile? {
        guard let slot = slots.removeValue(forKey: fd) else { return nil }
        return Self.release(slot.file)
    }

    /// The table a child gets at fork: same descriptions, shared offsets.
    public func copy() -> DescriptorTable {
        let copy = DescriptorTable()
        copy.slots = slots
        for slot in slots.values { slot.file.references += 1 }
        return copy
    }

    /// Drops close-on-exec descriptors; returns descriptions now unreferenced.
    public func execute() -> [OpenFile] {
        let closing = slots.filter { $0.value.closeOnExec }
        return closing.keys.compactMap { remove($0) }
    }

    /// Drops every descriptor (the process is gone); returns descriptions now unreferenced.
    public func removeAll() -> [OpenFile] {
        slots.keys.compactMap { remove($0) }
    }

    private static func release(_ file: OpenFile) -> OpenFile? {
        file.references -= 1
        return file.references == 0 ? file : nil
    }
}
