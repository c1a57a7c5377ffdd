public import NIOCore

extension ByteBuffer {
    /// Writes `value` in the given protocol, downgrading RESP3-only types for RESP2 as Redis does:
    /// map → flat array of keys and values, set and push → array, null → `$-1`,
    /// boolean → integer 1 or 0, double and big number → bulk string,
    /// verbatim string → bulk string without its `fmt:` prefix, bulk error → simple error.
    ///
    /// CR and LF inside simple strings and errors are written as spaces so the reply stays framed.
    public mutating func writeRESPValue(_ value: RESPValue, protocol version: RESPProtocolVersion) {
        switch value {
        case .simpleString(let bytes):
            self.writeRESPLine(RESPByte.simpleString, bytes)
        case .simpleError(let bytes):
            self.writeRESPLine(RESPByte.simpleError, bytes)
        case .integer(let integer):
            self.writeRESPNumberLine(RESPByte.integer, integer)
        case .bulkString(let bytes):
            self.writeBulkString(bytes)
        case .null:
            self.writeNull(protocol: version)
        case .array(let values):
            self.writeArrayHeader(values.count)
            for element in values {
                self.writeRESPValue(element, protocol: version)
            }
        case .double(let double):
            self.writeDouble(double, protocol: version)
        case .boolean(let bool):
            self.writeBoolean(bool, protocol: version)
        case .bigNumber(let digits):
            switch version {
            case .v2:
                self.writeBulkString(digits)
            case .v3:
                self.writeRESPLine(RESPByte.bigNumber, digits)
            }
        case .bulkError(let bytes):
            switch version {
            case .v2:
                self.writeRESPLine(RESPByte.simpleError, bytes)
            case .v3:
                self.writeRESPBlob(RESPByte.bulkError, bytes)
            }
        case .verbatimString(let bytes):
            switch version {
            case .v2:
                self.writeBulkString(RESPValue.verbatimText(bytes))
            case .v3:
                self.writeRESPBlob(RESPByte.verbatimString, bytes)
            }
        case .map(let pairs):
            self.writeMapHeader(pairs.count, protocol: version)
            for pair in pairs {
                self.writeRESPValue(pair.key, protocol: version)
                self.writeRESPValue(pair.value, protocol: version)
            }
        case .set(let values):
            self.writeSetHeader(values.count, protocol: version)
            for element in values {
                self.writeRESPValue(element, protocol: version)
            }
        case .push(let values):
            self.writePushHeader(values.count, protocol: version)
            for element in values {
                self.writeRESPValue(element, protocol: version)
            }
        }
    }

    /// Writes `+<string>\r\n`, e.g. `writeSimpleString("OK")`.
    public mutating func writeSimpleString(_ string: String) {
        self.writeRESPLine(RESPByte.simpleString, string)
    }

    /// Writes `-<error>\r\n`; `error` includes its code, e.g. `"ERR unknown command"`.
    public mutating func writeError(_ error: String) {
        self.writeRESPLine(RESPByte.simpleError, error)
    }

    /// Writes `:<value>\r\n`.
    ///
    /// Named apart from NIO's binary `writeInteger(_:endianness:as:)`: sharing that name would make
    /// `writeInteger(5)` pick NIO's big-endian writer while `writeInteger(Int64(5))` picked this one.
    public mutating func writeRESPInteger(_ value: Int64) {
        self.writeRESPNumberLine(RESPByte.integer, value)
    }

    /// Writes `:<value>\r\n`, e.g. a count.
    public mutating func writeRESPInteger(_ value: Int) {
        self.writeRESPNumberLine(RESPByte.integer, Int64(value))
    }

    /// Writes `$<count>\r\n<bytes>\r\n` from the readable bytes of `bytes`.
    public mutating func writeBulkString(_ bytes: ByteBuffer) {
        self.writeRESPBlob(RESPByte.bulkString, bytes)
    }

    /// Writes `$<count>\r\n<bytes>\r\n`.
    public mutating func writeBulkString(_ bytes: some Collection<UInt8>) {
        self.writeRESPNumberLine(RESPByte.bulkString, Int64(bytes.count))
        self.writeBytes(bytes)
        self.writeCRLF()
    }

    /// Writes `$<length>\r\n`, the start of a bulk string whose bytes are written elsewhere
    /// (kept in buffers of their own), to be ended with ``writeBulkStringEnd()``.
    public mutating func writeBulkStringHeader(length: Int) {
        self.writeRESPNumberLine(RESPByte.bulkString, Int64(length))
    }

    /// Writes the `\r\n` after a bulk string's bytes.
    public mutating func writeBulkStringEnd() {
        self.writeCRLF()
    }

    /// Writes `$<count>\r\n<utf8>\r\n`.
    public mutating func writeBulkString(_ string: String) {
        self.writeRESPNumberLine(RESPByte.bulkString, Int64(string.utf8.count))
        self.writeString(string)
        self.writeCRLF()
    }

    /// Writes a null: `_\r\n` in RESP3, the null bulk string `$-1\r\n` in RESP2.
    public mutating func writeNull(protocol version: RESPProtocolVersion) {
        switch version {
        case .v2:
            self.writeStaticString("$-1\r\n")
        case .v3:
            self.writeStaticString("_\r\n")
        }
    }

    /// Writes a null where an array was expected: `_\r\n` in RESP3, `*-1\r\n` in RESP2.
    public mutating func writeNullArray(protocol version: RESPProtocolVersion) {
        switch version {
        case .v2:
            self.writeStaticString("*-1\r\n")
        case .v3:
            self.writeStaticString("_\r\n")
        }
    }

    /// Writes `*<count>\r\n`; `count` values must follow.
    public mutating func writeArrayHeader(_ count: Int) {
        self.writeRESPNumberLine(RESPByte.array, Int64(count))
    }

    /// Writes `%<count>\r\n` in RESP3 or `*<2 × count>\r\n` in RESP2; `count` key/value pairs must follow.
    public mutating func writeMapHeader(_ count: Int, protocol version: RESPProtocolVersion) {
        switch version {
        case .v2:
            self.writeRESPNumberLine(RESPByte.array, 2 * Int64(count))
        case .v3:
            self.writeRESPNumberLine(RESPByte.map, Int64(count))
        }
    }

    /// Writes `~<count>\r\n` in RESP3 or `*<count>\r\n` in RESP2; `count` values must follow.
    public mutating func writeSetHeader(_ count: Int, protocol version: RESPProtocolVersion) {
        switch version {
        case .v2:
            self.writeRESPNumberLine(RESPByte.array, Int64(count))
        case .v3:
            self.writeRESPNumberLine(RESPByte.set, Int64(count))
        }
    }

    /// Writes `><count>\r\n` in RESP3 or `*<count>\r\n` in RESP2; `count` values must follow.
    public mutating func writePushHeader(_ count: Int, protocol version: RESPProtocolVersion) {
        switch version {
        case .v2:
            self.writeRESPNumberLine(RESPByte.array, Int64(count))
        case .v3:
            self.writeRESPNumberLine(RESPByte.push, Int64(count))
        }
    }

    /// Writes `,<value>\r\n` in RESP3 or the same text as a bulk string in RESP2.
    ///
    /// The text is the shortest that reads back to the same `Double`, without a trailing `.0`
    /// (`1`, `1.5`, `1e+20`), and `inf`, `-inf` or `nan`, as Redis writes doubles.
    public mutating func writeDouble(_ value: Double, protocol version: RESPProtocolVersion) {
        let text = Self.respText(of: value)
        switch version {
        case .v2:
            self.writeBulkString(text)
        case .v3:
            self.writeRESPLine(RESPByte.double, text)
        }
    }

    /// Writes `#t\r\n` / `#f\r\n` in RESP3 or `:1\r\n` / `:0\r\n` in RESP2.
    public mutating func writeBoolean(_ value: Bool, protocol version: RESPProtocolVersion) {
        switch (version, value) {
        case (.v2, true):
            self.writeStaticString(":1\r\n")
        case (.v2, false):
            self.writeStaticString(":0\r\n")
        case (.v3, true):
            self.writeStaticString("#t\r\n")
        case (.v3, false):
            self.writeStaticString("#f\r\n")
        }
    }

    /// Writes `=<count>\r\n<format>:<text>\r\n` in RESP3 or `text` as a bulk string in RESP2,
    /// as Redis replies to `INFO` and friends; `format` is three bytes such as `txt` or `mkd`.
    public mutating func writeVerbatimString(
        _ text: String,
        format: String = "txt",
        protocol version: RESPProtocolVersion
    ) {
        precondition(format.utf8.count == 3, "a verbatim string format is exactly three bytes")
        switch version {
        case .v2:
            self.writeBulkString(text)
        case .v3:
            self.writeRESPNumberLine(RESPByte.verbatimString, Int64(4 + text.utf8.count))
            self.writeString(format)
            self.writeInteger(RESPByte.colon, as: UInt8.self)
            self.writeString(text)
            self.writeCRLF()
        }
    }

    private mutating func writeCRLF() {
        self.writeStaticString("\r\n")
    }

    /// `<marker><decimal>\r\n`, with the digits written straight into the buffer: this is the
    /// hot path for every integer reply and length header, so no `String` is built.
    private mutating func writeRESPNumberLine(_ marker: UInt8, _ value: Int64) {
        // Marker, sign, 19 digits of Int64.min, CRLF.
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { output in
            output[0] = marker
            var index = 1
            if value < 0 {
                output[index] = RESPByte.minus
                index += 1
            }
            var magnitude = value.magnitude
            var digits = 1
            var scale = magnitude
            while scale >= 10 {
                scale /= 10
                digits += 1
            }
            var position = index + digits
            repeat {
                position -= 1
                output[position] = RESPByte.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            index += digits
            output[index] = RESPByte.cr
            output[index + 1] = RESPByte.lf
            return index + 2
        }
    }

    private mutating func writeRESPBlob(_ marker: UInt8, _ bytes: ByteBuffer) {
        self.writeRESPNumberLine(marker, Int64(bytes.readableBytes))
        self.writeImmutableBuffer(bytes)
        self.writeCRLF()
    }

    private mutating func writeRESPLine(_ marker: UInt8, _ text: String) {
        self.writeInteger(marker, as: UInt8.self)
        let start = self.writerIndex
        self.writeString(text)
        self.replaceLineBreaks(from: start)
        self.writeCRLF()
    }

    private mutating func writeRESPLine(_ marker: UInt8, _ bytes: ByteBuffer) {
        self.writeInteger(marker, as: UInt8.self)
        let start = self.writerIndex
        self.writeImmutableBuffer(bytes)
        self.replaceLineBreaks(from: start)
        self.writeCRLF()
    }

    /// Turns CR and LF written since `start` into spaces, as Redis does for error replies:
    /// a line-based reply cannot carry them, and passing them through would let
    /// user-controlled text inject replies.
    private mutating func replaceLineBreaks(from start: Int) {
        let offset = start - self.readerIndex
        self.withUnsafeMutableReadableBytes { bytes in
            for index in offset..<bytes.count where bytes[index] == RESPByte.cr || bytes[index] == RESPByte.lf {
                bytes[index] = RESPByte.space
            }
        }
    }

    private static func respText(of value: Double) -> String {
        if value.isNaN {
            return "nan"
        }
        if value.isInfinite {
            return value < 0 ? "-inf" : "inf"
        }
        let text = value.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}
