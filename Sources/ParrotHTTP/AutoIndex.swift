/// Directory listings as web servers generate them (nginx `autoindex`,
/// Apache `mod_autoindex`, python's http.server): the names a listing links
/// to, one level below the listed directory. A name whose link ends in / is
/// a directory. Parent, sort (`?C=N;O=D`), absolute-elsewhere and external
/// links are not entries.
public enum AutoIndex {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var isDirectory: Bool

        public init(name: String, isDirectory: Bool) {
            self.name = name
            self.isDirectory = isDirectory
        }
    }

    /// The entries of `html`, the listing of the directory whose
    /// (percent-encoded) path is `directoryTarget`, in listing order.
    public static func entries(html: String, directoryTarget: String) -> [Entry] {
        var directory = String(directoryTarget.prefix { $0 != "?" })
        if !directory.hasSuffix("/") { directory += "/" }
        var result: [Entry] = []
        var seen: Set<String> = []
        for href in hrefs(html) {
            var link = Substring(decodeEntities(href))
            link = link.prefix { $0 != "#" }
            if link.contains("?") || link.isEmpty { continue }
            if let colon = link.firstIndex(of: ":"), !link[..<colon].contains("/") { continue }  // a scheme
            if link.hasPrefix("/") {
                guard link.hasPrefix(directory) else { continue }
                link = link.dropFirst(directory.count)
            }
            while link.hasPrefix("./") { link = link.dropFirst(2) }
            let isDirectory = link.hasSuffix("/")
            if isDirectory { link = link.dropLast() }
            guard !link.isEmpty, !link.contains("/") else { continue }
            let name = HTTPLocation.decode(String(link))
            guard name != ".", name != "..", !name.isEmpty, !name.contains("/"), !seen.contains(name) else { continue }
            seen.insert(name)
            result.append(Entry(name: name, isDirectory: isDirectory))
        }
        return result
    }

    /// The href values of the <a> tags, in order.
    static func hrefs(_ html: String) -> [String] {
        var result: [String] = []
        let bytes = Array(html.utf8)
        var index = 0
        func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 12 }
        while index + 2 < bytes.count {
            guard bytes[index] == UInt8(ascii: "<"), lower(bytes[index + 1]) == UInt8(ascii: "a"), isSpace(bytes[index + 2]) else {
                index += 1
                continue
            }
            // The tag's attributes, up to its '>' (outside quotes).
            var cursor = index + 3
            var quote: UInt8? = nil
            let tagStart = cursor
            while cursor < bytes.count {
                let byte = bytes[cursor]
                if let open = quote { if byte == open { quote = nil } }
                else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") { quote = byte }
                else if byte == UInt8(ascii: ">") { break }
                cursor += 1
            }
            if let value = attribute("href", in: Array(bytes[tagStart..<cursor])) { result.append(value) }
            index = cursor
        }
        return result
    }

    private static func attribute(_ wanted: String, in tag: [UInt8]) -> String? {
        var index = 0
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 12 }
        while index < tag.count {
            while index < tag.count, isSpace(tag[index]) { index += 1 }
            let nameStart = index
            while index < tag.count, !isSpace(tag[index]), tag[index] != UInt8(ascii: "=") { index += 1 }
            let name = String(decoding: tag[nameStart..<index], as: UTF8.self).lowercased()
            while index < tag.count, isSpace(tag[index]) { index += 1 }
            var value: String? = nil
            if index < tag.count, tag[index] == UInt8(ascii: "=") {
                index += 1
                while index < tag.count, isSpace(tag[index]) { index += 1 }
                if index < tag.count, tag[index] == UInt8(ascii: "\"") || tag[index] == UInt8(ascii: "'") {
                    let quote = tag[index]
                    let start = index + 1
                    index = start
                    while index < tag.count, tag[index] != quote { index += 1 }
                    value = String(decoding: tag[start..<min(index, tag.count)], as: UTF8.self)
                    index += 1
                } else {
                    let start = index
                    while index < tag.count, !isSpace(tag[index]) { index += 1 }
                    value = String(decoding: tag[start..<index], as: UTF8.self)
                }
            }
            if name == wanted { return value }
            if nameStart == index { index += 1 }
        }
        return nil
    }

    /// The character references a listing uses in hrefs.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            guard let semicolon = after.prefix(10).firstIndex(of: ";") else {
                result += "&"
                rest = after
                continue
            }
            let name = after[..<semicolon]
            let named: [Substring: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"]
            if let value = named[name] {
                result += value
            } else if name.hasPrefix("#x") || name.hasPrefix("#X"), let code = UInt32(name.dropFirst(2), radix: 16),
                      let scalar = UnicodeScalar(code) {
                result.unicodeScalars.append(scalar)
            } else if name.hasPrefix("#"), let code = UInt32(name.dropFirst()), let scalar = UnicodeScalar(code) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "&" + name + ";"
            }
            rest = after[after.index(after: semicolon)...]
        }
        return result + rest
    }
}
