/// The standard Lambda error body, `{"errorMessage": ..., "errorType": ..., "stackTrace": []}`.
///
/// Only these two string members matter here, so a tiny JSON writer and reader
/// stand in for Foundation's coders.
struct ErrorDocument: Hashable, Sendable {
    var type: String
    var message: String

    /// The document as UTF-8 JSON.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(self.message.utf8.count + self.type.utf8.count + 64)
        out.append(contentsOf: #"{"errorMessage":"#.utf8)
        Self.appendJSONString(self.message, to: &out)
        out.append(contentsOf: #","errorType":"#.utf8)
        Self.appendJSONString(self.type, to: &out)
        out.append(contentsOf: #","stackTrace":[]}"#.utf8)
        return out
    }

    /// The `errorType` and `errorMessage` members of a JSON object, or `nil` when `bytes` is not
    /// a JSON object. Members that are absent or not strings come back as `nil`.
    static func decodeMembers(_ bytes: some Collection<UInt8>) -> (type: String?, message: String?)? {
        var reader = JSONReader(Array(bytes))
        guard let members = reader.readTopLevelObjectStrings() else { return nil }
        return (members["errorType"], members["errorMessage"])
    }

    static func appendJSONString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble + 48 : nibble + 87
    }
}

/// A small JSON reader that keeps only the string members of a top-level object.
/// Nesting depth is limited because the input comes from another process.
private struct JSONReader {
    private let bytes: [UInt8]
    private var index = 0
    private static let maxDepth = 64

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readTopLevelObjectStrings() -> [String: String]? {
        self.skipWhitespace()
        guard self.consume(UInt8(ascii: "{")) else { return nil }
        var members: [String: String] = [:]
        self.skipWhitespace()
        if self.consume(UInt8(ascii: "}")) { return self.atEnd() ? members : nil }
        while true {
            self.skipWhitespace()
            guard let key = self.readString() else { return nil }
            self.skipWhitespace()
            guard self.consume(UInt8(ascii: ":")) else { return nil }
            self.skipWhitespace()
            if self.peek() == UInt8(ascii: "\"") {
                guard let value = self.readString() else { return nil }
                members[key] = value
            } else {
                guard self.skipValue(depth: 1) else { return nil }
            }
            self.skipWhitespace()
            if self.consume(UInt8(ascii: ",")) { continue }
            guard self.consume(UInt8(ascii: "}")) else { return nil }
            return self.atEnd() ? members : nil
        }
    }

    private mutating func atEnd() -> Bool {
        self.skipWhitespace()
        return self.index == self.bytes.count
    }

    private func peek() -> UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else { return false }
        self.index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.index += 1
        }
    }

    private mutating func readString() -> String? {
        guard self.consume(UInt8(ascii: "\"")) else { return nil }
        var utf8: [UInt8] = []
        while let byte = self.peek() {
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = self.peek() else { return nil }
                self.index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = self.readUnicodeEscape() else { return nil }
                    utf8.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                utf8.append(byte)
            }
        }
        return nil
    }

    /// Reads the hex digits after `\u`, joining surrogate pairs; a lone surrogate becomes U+FFFD.
    private mutating func readUnicodeEscape() -> Unicode.Scalar? {
        guard let first = self.readHex4() else { return nil }
        if (0xD800..<0xDC00).contains(first) {
            let save = self.index
            if self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")), let second = self.readHex4(),
                (0xDC00..<0xE000).contains(second)
            {
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            self.index = save
            return "\u{FFFD}"
        }
        return Unicode.Scalar(first) ?? "\u{FFFD}"
    }

    private mutating func readHex4() -> UInt32? {
        guard self.index + 4 <= self.bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - 55
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    private mutating func skipValue(depth: Int) -> Bool {
        guard depth <= Self.maxDepth, let byte = self.peek() else { return false }
        switch byte {
        case UInt8(ascii: "\""):
            return self.readString() != nil
        case UInt8(ascii: "{"):
            self.index += 1
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return true }
            while true {
                self.skipWhitespace()
                guard self.readString() != nil else { return false }
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")) else { return false }
                self.skipWhitespace()
                guard self.skipValue(depth: depth + 1) else { return false }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                return self.consume(UInt8(ascii: "}"))
            }
        case UInt8(ascii: "["):
            self.index += 1
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "]")) { return true }
            while true {
                self.skipWhitespace()
                guard self.skipValue(depth: depth + 1) else { return false }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                return self.consume(UInt8(ascii: "]"))
            }
        case UInt8(ascii: "t"):
            return self.consumeLiteral("true")
        case UInt8(ascii: "f"):
            return self.consumeLiteral("false")
        case UInt8(ascii: "n"):
            return self.consumeLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return self.skipNumber()
        default:
            return false
        }
    }

    private mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            self.bytes[self.index..<(self.index + count)].elementsEqual(expected)
        }
        if matches { self.index += count }
        return matches
    }

    /// Accepts the characters a JSON number can contain; the value itself is never needed.
    private mutating func skipNumber() -> Bool {
        let start = self.index
        while let byte = self.peek(),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                || byte == UInt8(ascii: "E")
        {
            self.index += 1
        }
        return self.index > start
    }
}
