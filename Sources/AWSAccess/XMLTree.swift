/// A small, strict XML reader for the short documents AWS answers with (S3 listings, error
/// documents, IAM results): elements, text, the five predefined entities, character
/// references, CDATA, comments and processing instructions. Attributes are skipped and
/// namespace prefixes dropped; a DTD is refused, so no entity can expand.
struct XMLTree: Sendable, Hashable {
    /// The element's local name (without any `prefix:`).
    var name: String
    /// The element's own text, entities decoded, concatenated across its child elements.
    var text: String
    var children: [XMLTree]

    /// The first child element called `name`.
    func child(_ name: String) -> XMLTree? {
        self.children.first { $0.name == name }
    }

    /// Every child element called `name`, in document order.
    func children(_ name: String) -> [XMLTree] {
        self.children.filter { $0.name == name }
    }

    /// The text of the first child element called `name`.
    func text(of name: String) -> String? {
        self.child(name)?.text
    }

    static let maximumDepth = 32

    /// `text` with the characters XML reserves written as entities, for a request body.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Parses a whole document and returns its root element.
    static func parse(_ bytes: some Collection<UInt8>) throws(XMLError) -> XMLTree {
        var reader = Reader(bytes: Array(bytes))
        try reader.skipMisc()
        guard reader.peek() == UInt8(ascii: "<") else { throw XMLError("document has no root element") }
        let root = try reader.element(depth: 1)
        try reader.skipMisc()
        guard reader.isAtEnd else { throw XMLError("content after the root element") }
        return root
    }
}

/// Why a document could not be read.
struct XMLError: Error, Hashable, Sendable, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

private struct Reader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { self.index >= self.bytes.count }

    func peek(_ offset: Int = 0) -> UInt8? {
        self.index + offset < self.bytes.count ? self.bytes[self.index + offset] : nil
    }

    func hasPrefix(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard self.index + needle.count <= self.bytes.count else { return false }
        return self.bytes[self.index..<self.index + needle.count].elementsEqual(needle)
    }

    /// Moves past `terminator`, failing when the document ends first.
    mutating func skip(past terminator: String, what: String) throws(XMLError) {
        while !self.isAtEnd {
            if self.hasPrefix(terminator) {
                self.index += terminator.utf8.count
                return
            }
            self.index += 1
        }
        throw XMLError("unterminated \(what)")
    }

    /// Whitespace, comments, processing instructions and the XML declaration.
    mutating func skipMisc() throws(XMLError) {
        while let byte = self.peek() {
            if Self.isSpace(byte) {
                self.index += 1
            } else if self.hasPrefix("<?") {
                try self.skip(past: "?>", what: "processing instruction")
            } else if self.hasPrefix("<!--") {
                try self.skip(past: "-->", what: "comment")
            } else if self.hasPrefix("<!") {
                throw XMLError("document type declarations are not accepted")
            } else {
                return
            }
        }
    }

    mutating func element(depth: Int) throws(XMLError) -> XMLTree {
        guard depth <= XMLTree.maximumDepth else { throw XMLError("elements nested deeper than \(XMLTree.maximumDepth)") }
        self.index += 1  // "<"
        let qualifiedName = try self.name()
        let selfClosing = try self.skipAttributes()
        var tree = XMLTree(name: Self.localName(qualifiedName), text: "", children: [])
        if selfClosing { return tree }

        var text: [UInt8] = []
        while true {
            guard let byte = self.peek() else { throw XMLError("element <\(qualifiedName)> is not closed") }
            if byte == UInt8(ascii: "&") {
                try self.reference(into: &text)
            } else if byte != UInt8(ascii: "<") {
                text.append(byte)
                self.index += 1
            } else if self.hasPrefix("</") {
                self.index += 2
                let closing = try self.name()
                while let space = self.peek(), Self.isSpace(space) { self.index += 1 }
                guard closing == qualifiedName, self.peek() == UInt8(ascii: ">") else {
                    throw XMLError("<\(qualifiedName)> closed by </\(closing)>")
                }
                self.index += 1
                guard let decoded = String(validating: text, as: UTF8.self) else {
                    throw XMLError("text of <\(qualifiedName)> is not valid UTF-8")
                }
                tree.text = decoded
                return tree
            } else if self.hasPrefix("<![CDATA[") {
                self.index += 9
                let start = self.index
                try self.skip(past: "]]>", what: "CDATA section")
                text.append(contentsOf: self.bytes[start..<self.index - 3])
            } else if self.hasPrefix("<!--") {
                try self.skip(past: "-->", what: "comment")
            } else if self.hasPrefix("<?") {
                try self.skip(past: "?>", what: "processing instruction")
            } else if self.hasPrefix("<!") {
                throw XMLError("unexpected declaration inside <\(qualifiedName)>")
            } else {
                tree.children.append(try self.element(depth: depth + 1))
            }
        }
    }

    mutating func name() throws(XMLError) -> String {
        let start = self.index
        while let byte = self.peek(), !Self.isSpace(byte), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "/"),
            byte != UInt8(ascii: "="), byte != UInt8(ascii: "<")
        {
            self.index += 1
        }
        guard self.index > start, let name = String(validating: self.bytes[start..<self.index], as: UTF8.self) else {
            throw XMLError("missing or invalid element name")
        }
        return name
    }

    /// Skips `name="value"` pairs up to `>` or `/>`; returns whether the tag closed itself.
    mutating func skipAttributes() throws(XMLError) -> Bool {
        while let byte = self.peek() {
            switch byte {
            case UInt8(ascii: ">"):
                self.index += 1
                return false
            case UInt8(ascii: "/"):
                guard self.peek(1) == UInt8(ascii: ">") else { throw XMLError("stray '/' in a tag") }
                self.index += 2
                return true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                self.index += 1
                try self.skip(past: byte == UInt8(ascii: "\"") ? "\"" : "'", what: "attribute value")
            case UInt8(ascii: "<"):
                throw XMLError("'<' inside a tag")
            default:
                self.index += 1
            }
        }
        throw XMLError("unterminated tag")
    }

    /// Decodes `&name;` or `&#N;` / `&#xH;` at the cursor and appends its UTF-8 bytes.
    mutating func reference(into text: inout [UInt8]) throws(XMLError) {
        let start = self.index + 1
        var end = start
        while end < self.bytes.count, self.bytes[end] != UInt8(ascii: ";"), end - start <= 10 { end += 1 }
        guard end < self.bytes.count, self.bytes[end] == UInt8(ascii: ";") else {
            throw XMLError("unterminated entity reference")
        }
        let body = String(decoding: self.bytes[start..<end], as: UTF8.self)
        let scalar: Unicode.Scalar?
        switch body {
        case "lt": scalar = "<"
        case "gt": scalar = ">"
        case "amp": scalar = "&"
        case "quot": scalar = "\""
        case "apos": scalar = "'"
        default:
            // Digits only: Swift's integer parsing would also take a sign.
            if body.hasPrefix("#x"), body.dropFirst(2).allSatisfy(\.isHexDigit) {
                scalar = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
            } else if body.hasPrefix("#"), body.dropFirst().allSatisfy(\.isWholeNumber) {
                scalar = UInt32(body.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
            } else {
                throw XMLError("unknown entity '&\(body);'")
            }
        }
        guard let scalar, scalar.value != 0 else { throw XMLError("invalid character reference '&\(body);'") }
        text.append(contentsOf: String(Character(scalar)).utf8)
        self.index = end + 1
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    static func localName(_ qualified: String) -> String {
        guard let colon = qualified.lastIndex(of: ":") else { return qualified }
        return String(qualified[qualified.index(after: colon)...])
    }
}
