/// How paths travel in a request line: URL-encoded, so that a path is one
/// word whatever bytes it holds (protocols/chirp.md §3).
enum ChirpPathEncoding {
    private static let hex = Array("0123456789ABCDEF".utf8)

    static func encode(_ path: String) -> String {
        // Most paths need nothing: no copy then.
        guard path.utf8.contains(where: needsEscape) else { return path }
        var out: [UInt8] = []
        out.reserveCapacity(path.utf8.count)
        for byte in path.utf8 {
            if needsEscape(byte) {
                // Exactly two digits: the reference encoder sign-extends bytes >= 0x80.
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func needsEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case 0...0x20, UInt8(ascii: "%"), UInt8(ascii: "\\"), UInt8(ascii: "<"), UInt8(ascii: ">"),
             UInt8(ascii: "'"), UInt8(ascii: "\""): true
        default: byte > UInt8(ascii: "z")
        }
    }
}
