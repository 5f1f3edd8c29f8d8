/// A request line split into its command and arguments. The accessors throw
/// EINVAL (-8, the reference server's answer to a malformed line) for a
/// missing or malformed argument.
struct ChirpRequestLine {
    let command: Substring
    let arguments: [Substring]

    init?(_ line: String) {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first else { return nil }
        command = first
        arguments = Array(words.dropFirst())
    }

    /// Fails unless there are exactly `count` arguments.
    func expect(_ count: Int) throws(ChirpFailure) {
        guard arguments.count == count else { throw ChirpFailure(EINVAL) }
    }

    func word(_ index: Int) throws(ChirpFailure) -> Substring {
        guard index < arguments.count else { throw ChirpFailure(EINVAL) }
        return arguments[index]
    }

    func integer(_ index: Int) throws(ChirpFailure) -> Int64 {
        guard let value = Int64(try word(index)) else { throw ChirpFailure(EINVAL) }
        return value
    }

    func path(_ index: Int) throws(ChirpFailure) -> ChirpServerPath {
        guard let path = ChirpServerPath(encoded: try word(index)) else { throw ChirpFailure(EINVAL) }
        return path
    }
}

#if canImport(Glibc)
import Glibc
#endif
