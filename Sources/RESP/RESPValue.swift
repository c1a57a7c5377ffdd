public import NIOCore

/// A RESP2 or RESP3 value.
///
/// Byte payloads are `ByteBuffer`s; values produced by ``RESPParser`` are zero-copy slices of the
/// receive buffer. Equality compares payload bytes; `.double(.nan)` follows IEEE semantics and is
/// not equal to itself, like `Double`.
///
/// RESP2's null bulk string (`$-1`) and null array (`*-1`) both parse to ``null``.
/// RESP3 attributes (`|`) are validated and skipped by the parser, so there is no attribute case.
public enum RESPValue: Hashable, Sendable {
    /// `+OK`: a line without CR or LF.
    case simpleString(ByteBuffer)
    /// `-ERR message`: the payload includes the error code prefix.
    case simpleError(ByteBuffer)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe.
    case bulkString(ByteBuffer)
    /// RESP3 `_`; RESP2 `$-1` or `*-1`.
    case null
    /// `*N` followed by N values.
    case array([RESPValue])
    /// RESP3 `,1.5`, `,inf`, `,-inf`, `,nan`.
    case double(Double)
    /// RESP3 `#t` / `#f`.
    case boolean(Bool)
    /// RESP3 `(12345678901234567890`: the decimal digits, with an optional leading `-`.
    case bigNumber(ByteBuffer)
    /// RESP3 `!21\r\nSYNTAX invalid syntax`: a binary-safe error.
    case bulkError(ByteBuffer)
    /// RESP3 `=15\r\ntxt:Some string`: the payload keeps its three-byte format and colon
    /// (`txt:` or `mkd:`) so the value re-encodes byte for byte; see ``verbatimFormat``.
    case verbatimString(ByteBuffer)
    /// RESP3 `%N` followed by N key/value pairs, in wire order (keys may repeat).
    case map([RESPKeyValuePair])
    /// RESP3 `~N` followed by N values, in wire order.
    case set([RESPValue])
    /// RESP3 `>N`: out-of-band data such as Pub/Sub messages.
    case push([RESPValue])
}

/// One entry of a ``RESPValue/map(_:)``.
public struct RESPKeyValuePair: Hashable, Sendable {
    public var key: RESPValue
    public var value: RESPValue

    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// A simple string holding the UTF-8 bytes of `simpleString`.
    public init(simpleString: String) {
        self = .simpleString(ByteBuffer(string: simpleString))
    }

    /// A simple error holding the UTF-8 bytes of `simpleError`, e.g. `"ERR unknown command"`.
    public init(simpleError: String) {
        self = .simpleError(ByteBuffer(string: simpleError))
    }

    /// A bulk string holding the UTF-8 bytes of `bulkString`.
    public init(bulkString: String) {
        self = .bulkString(ByteBuffer(string: bulkString))
    }

    /// A bulk string holding `bulkString`.
    public init(bulkString: [UInt8]) {
        self = .bulkString(ByteBuffer(bytes: bulkString))
    }

    /// A bulk error holding the UTF-8 bytes of `bulkError`.
    public init(bulkError: String) {
        self = .bulkError(ByteBuffer(string: bulkError))
    }

    /// A verbatim string; `format` must be exactly three bytes, such as `txt` or `mkd`.
    public init(verbatimString text: String, format: String = "txt") {
        precondition(format.utf8.count == 3, "a verbatim string format is exactly three bytes")
        var buffer = ByteBuffer()
        buffer.writeString(format)
        buffer.writeInteger(RESPByte.colon, as: UInt8.self)
        buffer.writeString(text)
        self = .verbatimString(buffer)
    }

    /// The payload bytes of a string-like value (simple, bulk, verbatim without its format
    /// prefix, either error kind, big number), or nil.
    public var bufferValue: ByteBuffer? {
        switch self {
        case .simpleString(let buffer), .simpleError(let buffer), .bulkString(let buffer),
            .bulkError(let buffer), .bigNumber(let buffer):
            return buffer
        case .verbatimString(let buffer):
            return Self.verbatimText(buffer)
        case .integer, .null, .array, .double, .boolean, .map, .set, .push:
            return nil
        }
    }

    /// ``bufferValue`` decoded as UTF-8 (invalid sequences are repaired), or nil.
    public var stringValue: String? {
        self.bufferValue.map { String(buffer: $0) }
    }

    /// The format of a verbatim string (`"txt"`, `"mkd"`), or nil.
    public var verbatimFormat: String? {
        guard case .verbatimString(let buffer) = self, Self.hasVerbatimPrefix(buffer) else {
            return nil
        }
        return buffer.getString(at: buffer.readerIndex, length: 3)
    }

    /// The value of an ``integer(_:)``, or nil.
    public var integerValue: Int64? {
        guard case .integer(let value) = self else {
            return nil
        }
        return value
    }

    /// The value of a ``double(_:)``, or nil.
    public var doubleValue: Double? {
        guard case .double(let value) = self else {
            return nil
        }
        return value
    }

    /// The value of a ``boolean(_:)``, or nil.
    public var boolValue: Bool? {
        guard case .boolean(let value) = self else {
            return nil
        }
        return value
    }

    /// The elements of an array, set or push, or nil.
    public var arrayValue: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values):
            return values
        default:
            return nil
        }
    }

    /// The entries of a ``map(_:)``, or nil.
    public var mapValue: [RESPKeyValuePair]? {
        guard case .map(let pairs) = self else {
            return nil
        }
        return pairs
    }

    /// Whether this is ``null``.
    public var isNull: Bool {
        self == .null
    }

    /// Whether this is a simple or bulk error.
    public var isError: Bool {
        switch self {
        case .simpleError, .bulkError:
            return true
        default:
            return false
        }
    }

    static func hasVerbatimPrefix(_ buffer: ByteBuffer) -> Bool {
        buffer.readableBytes >= 4 && buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self) == RESPByte.colon
    }

    /// The text of a verbatim payload: everything after `fmt:` (the whole payload if malformed).
    static func verbatimText(_ buffer: ByteBuffer) -> ByteBuffer {
        guard hasVerbatimPrefix(buffer) else {
            return buffer
        }
        var text = buffer
        text.moveReaderIndex(forwardBy: 4)
        return text
    }
}

extension RESPValue: CustomDebugStringConvertible {
    public var debugDescription: String {
        switch self {
        case .simpleString(let buffer):
            return "simpleString(\(Self.quoted(buffer)))"
        case .simpleError(let buffer):
            return "simpleError(\(Self.quoted(buffer)))"
        case .integer(let value):
            return "integer(\(value))"
        case .bulkString(let buffer):
            return "bulkString(\(Self.quoted(buffer)))"
        case .null:
            return "null"
        case .array(let values):
            return "array(\(Self.list(values)))"
        case .double(let value):
            return "double(\(value))"
        case .boolean(let value):
            return "boolean(\(value))"
        case .bigNumber(let buffer):
            return "bigNumber(\(Self.quoted(buffer)))"
        case .bulkError(let buffer):
            return "bulkError(\(Self.quoted(buffer)))"
        case .verbatimString(let buffer):
            return "verbatimString(\(Self.quoted(buffer)))"
        case .map(let pairs):
            let entries = pairs.map { "\($0.key.debugDescription): \($0.value.debugDescription)" }
            return "map([\(entries.joined(separator: ", "))])"
        case .set(let values):
            return "set(\(Self.list(values)))"
        case .push(let values):
            return "push(\(Self.list(values)))"
        }
    }

    private static func list(_ values: [RESPValue]) -> String {
        "[\(values.map(\.debugDescription).joined(separator: ", "))]"
    }

    private static func quoted(_ buffer: ByteBuffer) -> String {
        String(reflecting: String(buffer: buffer))
    }
}
