/// Access a mount entry grants to what lies under it (Parrot's MODE letters).
public struct AccessMode: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = AccessMode(rawValue: 1)
    public static let write = AccessMode(rawValue: 2)
    public static let execute = AccessMode(rawValue: 4)
    public static let all: AccessMode = [.read, .write, .execute]

    /// Parses letters from "rwx" (any order, each at most once).
    public init?(letters: String) {
        var mode: AccessMode = []
        for letter in letters {
            let bit: AccessMode
            switch letter {
            case "r", "R": bit = .read
            case "w", "W": bit = .write
            case "x", "X": bit = .execute
            default: return nil
            }
            if mode.contains(bit) { return nil }
            mode.insert(bit)
        }
        guard !letters.isEmpty else { return nil }
        self = mode
    }

    public var description: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }
}

/// Where a prefix of the program's namespace leads.
public enum MountTarget: Equatable, Sendable {
    /// To this host path.
    case redirect(String)
    /// Refused with EACCES.
    case deny
    /// Hidden: ENOENT.
    case enoent
    /// The host's own path (undoes a broader entry).
    case local
}

public struct MountEntry: Equatable, Sendable, CustomStringConvertible {
    /// Normalized absolute path in the program's view ("/" or no trailing slash).
    public let prefix: String
    public let target: MountTarget
    public let mode: AccessMode
    /// Where the entry came from, for messages ("mounts.txt:3" or "-M").
    public let origin: String

    public init(prefix: String, target: MountTarget, mode: AccessMode = .all, origin: String = "") {
        self.prefix = prefix
        self.target = target
        self.mode = mode
        self.origin = origin
    }

    public var description: String {
        let to: String
        switch target {
        case .redirect(let path): to = path
        case .deny: to = "DENY"
        case .enoent: to = "ENOENT"
        case .local: to = "LOCAL"
        }
        return "\(prefix) \(to) \(mode)"
    }
}
