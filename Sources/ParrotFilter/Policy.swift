// The trap policy of filters/syscalls.policy, parsed.

/// What the filter does with one syscall number.
public enum PolicyAction: Equatable, Sendable {
    case allow
    case trap
    /// Trap only when one of these arguments is a virtual descriptor.
    case trapVirtualFD(args: [Int])
    /// Like trapVirtualFD, but the agent answers the call through a seccomp user
    /// notification, without a ptrace stop, where the kernel allows it.
    case answerVirtualFD(args: [Int])
    /// Trap unless the flags argument has AT_EMPTY_PATH and the descriptor is native.
    case trapUnlessEmptyPath(flagsArg: Int, fdArg: Int)
    /// Trap when the argument has this (single) bit set.
    case trapIfSet(arg: Int, bit: UInt64)
    case trapIfNonzero(arg: Int)
    case errno(name: String, value: Int32)
    /// Fail with this errno when the argument has this (single) bit set; else allow.
    case errnoIfSet(arg: Int, bit: UInt64, name: String, value: Int32)

    /// True when some calls of this syscall stop the tracee.
    public var mayTrap: Bool {
        switch self {
        case .allow, .errno, .errnoIfSet: return false
        default: return true
        }
    }
}

public struct SyscallRule: Equatable, Sendable {
    public let name: String
    public let number: Int
    public let action: PolicyAction
}

public struct PolicyError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public struct Policy: Sendable {
    public let rules: [SyscallRule]
    public let byNumber: [Int: SyscallRule]
    public let byName: [String: SyscallRule]
    /// Kernel entry-point name -> table name (e.g. newstat -> stat).
    public let aliases: [String: String]
    /// Kernel entry points that are not x86_64 syscalls.
    public let foreign: Set<String>

    public func name(of number: Int) -> String? { byNumber[number]?.name }

    /// The policy compiled into this binary.
    public static let builtin: Policy = {
        do { return try Policy.parse(embeddedPolicyText, file: "filters/syscalls.policy") }
        catch { fatalError("embedded policy is invalid: \(error)") }
    }()

    public static func parse(_ text: String, file: String) throws -> Policy {
        var rules: [SyscallRule] = []
        var byNumber: [Int: SyscallRule] = [:]
        var byName: [String: SyscallRule] = [:]
        var aliases: [String: String] = [:]
        var foreign: Set<String> = []
        // Split as bytes: Character-wise String splitting made this a tenth of every start.
        let bytes = Array(text.utf8)
        for (index, rawLine) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> PolicyError {
                PolicyError(file: file, line: lineNumber, message: message)
            }
            let content = rawLine.prefix { $0 != UInt8(ascii: "#") }
            let words = content.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
                .map { String(decoding: $0, as: UTF8.self) }
            guard let first = words.first else { continue }
            switch first {
            case "alias":
                guard words.count == 3 else { throw fail("alias takes KERNEL NAME") }
                aliases[words[1]] = words[2]
            case "foreign":
                guard words.count > 1 else { throw fail("foreign takes at least one name") }
                foreign.formUnion(words.dropFirst())
            default:
                guard words.count >= 3, let number = Int(words[1]), number >= 0 else {
                    throw fail("expected NAME NUMBER ACTION, got '\(words.joined(separator: " "))'")
                }
                let action = try parseAction(Array(words.dropFirst(2)), fail: fail)
                let rule = SyscallRule(name: first, number: number, action: action)
                if let other = byNumber[number] { throw fail("number \(number) already classified as \(other.name)") }
                if byName[first] != nil { throw fail("\(first) classified twice") }
                rules.append(rule)
                byNumber[number] = rule
                byName[first] = rule
            }
        }
        return Policy(rules: rules, byNumber: byNumber, byName: byName, aliases: aliases, foreign: foreign)
    }

    private static func parseAction(_ words: [String], fail: (String) -> PolicyError) throws -> PolicyAction {
        func arg(_ text: String) throws -> Int {
            guard let value = Int(text), (0...5).contains(value) else { throw fail("bad argument index '\(text)'") }
            return value
        }
        func singleBit(_ word: String) throws -> UInt64 {
            let text = word.hasPrefix("0x") ? String(word.dropFirst(2)) : word
            guard let bit = UInt64(text, radix: 16), bit != 0, bit & (bit - 1) == 0 else {
                throw fail("'\(words[0])' needs a single-bit hexadecimal mask, got '\(word)'")
            }
            return bit
        }
        func expect(_ count: Int) throws {
            guard words.count == count else { throw fail("'\(words[0])' takes \(count - 1) operand(s)") }
        }
        switch words[0] {
        case "allow": try expect(1); return .allow
        case "trap": try expect(1); return .trap
        case "trap-vfd":
            try expect(2)
            return .trapVirtualFD(args: try words[1].split(separator: ",").map { try arg(String($0)) })
        case "answer-vfd":
            try expect(2)
            return .answerVirtualFD(args: try words[1].split(separator: ",").map { try arg(String($0)) })
        case "trap-unless-empty-path":
            try expect(3)
            return .trapUnlessEmptyPath(flagsArg: try arg(words[1]), fdArg: try arg(words[2]))
        case "trap-if-set":
            try expect(3)
            return .trapIfSet(arg: try arg(words[1]), bit: try singleBit(words[2]))
        case "errno-if-set":
            try expect(4)
            guard let value = ErrnoName.value(of: words[3]) else { throw fail("unknown errno '\(words[3])'") }
            return .errnoIfSet(arg: try arg(words[1]), bit: try singleBit(words[2]), name: words[3], value: value)
        case "trap-if-nonzero": try expect(2); return .trapIfNonzero(arg: try arg(words[1]))
        case "errno":
            try expect(2)
            guard let value = ErrnoName.value(of: words[1]) else { throw fail("unknown errno '\(words[1])'") }
            return .errno(name: words[1], value: value)
        default:
            throw fail("unknown action '\(words[0])'")
        }
    }
}
