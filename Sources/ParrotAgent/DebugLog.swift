#if canImport(Glibc)
import Glibc
#endif

/// The -d / -o debug log. Each flag is checked before any message is built, so a
/// disabled log costs one branch on the hot path.
public final class DebugLog {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Every trapped call with its arguments and result.
        public static let syscall = Flags(rawValue: 1)
        /// Path resolution through the mount table.
        public static let namespace = Flags(rawValue: 2)
        /// Process creation, exec and exit.
        public static let process = Flags(rawValue: 4)
        /// Every access the mount list or the sandbox refuses (on with --sandbox).
        public static let denied = Flags(rawValue: 8)
        public static let all: Flags = [.syscall, .namespace, .process, .denied]

        public static let names: [(String, Flags)] = [
            ("syscall", .syscall), ("namespace", .namespace), ("process", .process), ("denied", .denied),
            ("all", .all),
        ]

        public init?(name: String) {
            guard let match = Self.names.first(where: { $0.0 == name }) else { return nil }
            self = match.1
        }
    }

    public let flags: Flags
    let fd: Int32

    /// - Parameter fd: where messages go (stderr by default).
    public init(flags: Flags = [], fd: Int32 = 2) {
        self.flags = flags
        self.fd = fd
    }

    @inline(__always) public func enabled(_ flag: Flags) -> Bool { flags.contains(flag) }

    public func write(_ message: String) {
        let line = "parrot: " + message + "\n"
        line.utf8CString.withUnsafeBufferPointer { buffer in
            var offset = 0
            let count = buffer.count - 1
            while offset < count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }
}
