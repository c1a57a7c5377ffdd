/// A protocol violation found while parsing RESP.
///
/// For client requests parsed by ``RESPCommandParser`` the ``message`` is exactly the text Redis
/// sends, so a server can reply `-ERR <message>` and close the connection as Redis does.
/// After an error the byte stream can no longer be framed, so the connection should be closed.
public struct RESPParsingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, comparable identifier for the kind of error.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidMultibulkLength
            case invalidBulkLength
            case unauthenticatedMultibulkLength
            case unauthenticatedBulkLength
            case expectedBulkString
            case tooBigInlineRequest
            case tooBigMultibulkCountString
            case tooBigBulkCountString
            case unbalancedQuotes
            case expectedCRLF
            case unknownType
            case invalidInteger
            case invalidDouble
            case invalidBoolean
            case invalidNull
            case invalidBigNumber
            case invalidVerbatimString
            case lineTooLong
            case nestingTooDeep
            case streamedTypeUnsupported
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// An aggregate (`*`, `%`, `~`, `>`, `|`) count that is not a strict integer, is negative
        /// (other than `*-1` in RESP replies) or exceeds ``RESPParser/Limits/maximumAggregateLength``.
        public static let invalidMultibulkLength = Code(.invalidMultibulkLength)
        /// A bulk length that is not a strict integer, is negative (other than `$-1` in RESP replies)
        /// or exceeds ``RESPParser/Limits/maximumBulkLength``.
        public static let invalidBulkLength = Code(.invalidBulkLength)
        /// More arguments than a client that has not authenticated may send
        /// (``RESPCommandParser/clientIsUnauthenticated``).
        public static let unauthenticatedMultibulkLength = Code(.unauthenticatedMultibulkLength)
        /// A longer bulk string than a client that has not authenticated may send.
        public static let unauthenticatedBulkLength = Code(.unauthenticatedBulkLength)
        /// A multibulk request element that does not start with `$`.
        public static let expectedBulkString = Code(.expectedBulkString)
        /// An inline request longer than ``RESPParser/Limits/maximumInlineLength`` without a newline.
        public static let tooBigInlineRequest = Code(.tooBigInlineRequest)
        /// A `*` header longer than ``RESPParser/Limits/maximumInlineLength`` without CRLF.
        public static let tooBigMultibulkCountString = Code(.tooBigMultibulkCountString)
        /// A `$` header longer than ``RESPParser/Limits/maximumInlineLength`` without CRLF.
        public static let tooBigBulkCountString = Code(.tooBigBulkCountString)
        /// An inline request with an unterminated quote, or a closing quote followed by a non-space.
        public static let unbalancedQuotes = Code(.unbalancedQuotes)
        /// A CR not followed by LF, a bare LF in a line, or bulk data not followed by CRLF.
        public static let expectedCRLF = Code(.expectedCRLF)
        /// A reply starting with a byte that is not a RESP2/RESP3 type marker.
        public static let unknownType = Code(.unknownType)
        /// A `:` integer that is empty, signed with `+`, zero-padded or out of the `Int64` range.
        public static let invalidInteger = Code(.invalidInteger)
        /// A `,` double that is not a finite decimal, `inf`, `-inf` or `nan`.
        public static let invalidDouble = Code(.invalidDouble)
        /// A `#` boolean other than `#t` or `#f`.
        public static let invalidBoolean = Code(.invalidBoolean)
        /// A `_` null with a payload.
        public static let invalidNull = Code(.invalidNull)
        /// A `(` big number that is not an optional `-` followed by decimal digits.
        public static let invalidBigNumber = Code(.invalidBigNumber)
        /// A `=` verbatim string without its three-byte format and colon.
        public static let invalidVerbatimString = Code(.invalidVerbatimString)
        /// A simple line (`+`, `-`, `:`, ...) longer than ``RESPParser/Limits/maximumInlineLength``.
        public static let lineTooLong = Code(.lineTooLong)
        /// Aggregates nested deeper than ``RESPParser/Limits/maximumDepth``.
        public static let nestingTooDeep = Code(.nestingTooDeep)
        /// A RESP3 streamed string or aggregate (`$?`, `*?`, ...), which Redis never sends.
        public static let streamedTypeUnsupported = Code(.streamedTypeUnsupported)

        public var description: String {
            String(describing: self.base)
        }
    }

    /// What went wrong.
    public let code: Code
    /// The human-readable text; for request errors, Redis's exact wording.
    public let message: String

    public var description: String {
        self.message
    }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension RESPParsingError {
    static let invalidMultibulkLength = Self(.invalidMultibulkLength, "Protocol error: invalid multibulk length")
    static let invalidBulkLength = Self(.invalidBulkLength, "Protocol error: invalid bulk length")
    static let unauthenticatedMultibulkLength = Self(
        .unauthenticatedMultibulkLength,
        "Protocol error: unauthenticated multibulk length"
    )
    static let unauthenticatedBulkLength = Self(.unauthenticatedBulkLength, "Protocol error: unauthenticated bulk length")
    static let tooBigInlineRequest = Self(.tooBigInlineRequest, "Protocol error: too big inline request")
    static let tooBigMultibulkCountString = Self(
        .tooBigMultibulkCountString,
        "Protocol error: too big mbulk count string"
    )
    static let tooBigBulkCountString = Self(.tooBigBulkCountString, "Protocol error: too big bulk count string")
    static let unbalancedQuotes = Self(.unbalancedQuotes, "Protocol error: unbalanced quotes in request")
    /// Bulk data not followed by CRLF, for a caller that reads a bulk's data itself.
    public static let expectedCRLF = Self(.expectedCRLF, "Protocol error: expected CRLF")
    static let invalidInteger = Self(.invalidInteger, "Protocol error: invalid integer")
    static let invalidDouble = Self(.invalidDouble, "Protocol error: invalid double")
    static let invalidBoolean = Self(.invalidBoolean, "Protocol error: invalid boolean")
    static let invalidNull = Self(.invalidNull, "Protocol error: invalid null")
    static let invalidBigNumber = Self(.invalidBigNumber, "Protocol error: invalid big number")
    static let invalidVerbatimString = Self(.invalidVerbatimString, "Protocol error: invalid verbatim string")
    static let lineTooLong = Self(.lineTooLong, "Protocol error: line too long")
    static let nestingTooDeep = Self(.nestingTooDeep, "Protocol error: nesting too deep")
    static let streamedTypeUnsupported = Self(
        .streamedTypeUnsupported,
        "Protocol error: streamed RESP3 types are not supported"
    )

    /// Redis: `Protocol error: expected '$', got '%c'`.
    static func expectedBulkString(got byte: UInt8) -> Self {
        Self(.expectedBulkString, "Protocol error: expected '$', got '\(printable(byte))'")
    }

    static func unknownType(_ byte: UInt8) -> Self {
        Self(.unknownType, "Protocol error: unknown type byte '\(printable(byte))'")
    }

    /// Redis formats the raw byte with `%c` and then turns CR and LF into spaces so the error
    /// line cannot break the reply framing; other bytes are shown as their Latin-1 character.
    private static func printable(_ byte: UInt8) -> Character {
        if byte == RESPByte.cr || byte == RESPByte.lf {
            return " "
        }
        return Character(Unicode.Scalar(byte))
    }
}
