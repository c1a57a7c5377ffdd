/// One RESP header or leaf value, located by byte offsets into the readable bytes.
struct RESPToken {
    enum Kind {
        case simpleString(Range<Int>)
        case simpleError(Range<Int>)
        case bigNumber(Range<Int>)
        case bulkString(Range<Int>)
        case bulkError(Range<Int>)
        case verbatimString(Range<Int>)
        case integer(Int64)
        case double(Double)
        case boolean(Bool)
        case null
        case array(Int)
        case set(Int)
        case push(Int)
        case map(Int)
        case attribute(Int)
    }

    var kind: Kind
    /// The offset just past this token (past the payload and its CRLF for bulk types).
    var end: Int

    /// How many values must follow this header to complete it; 0 for leaves and empty aggregates.
    var childCount: Int {
        switch self.kind {
        case .array(let count), .set(let count), .push(let count):
            return count
        case .map(let count):
            return 2 * count
        case .attribute(let count):
            // The pairs, then the value the attribute describes.
            return 2 * count + 1
        case .simpleString, .simpleError, .bigNumber, .bulkString, .bulkError, .verbatimString,
            .integer, .double, .boolean, .null:
            return 0
        }
    }

    private enum Shape {
        case line
        case blob
        case aggregate
    }

    /// Reads the token at `offset`, or returns nil if it is not complete yet.
    ///
    /// A bulk token is complete once its header is and `length + 2` more bytes are present,
    /// which is checked in constant time however large the payload.
    static func read(
        _ bytes: UnsafeRawBufferPointer,
        at offset: Int,
        _ limits: RESPParser.Limits
    ) throws(RESPParsingError) -> RESPToken? {
        guard offset < bytes.count else {
            return nil
        }
        let marker = bytes[offset]
        let shape: Shape
        switch marker {
        case RESPByte.simpleString, RESPByte.simpleError, RESPByte.integer, RESPByte.null,
            RESPByte.boolean, RESPByte.double, RESPByte.bigNumber:
            shape = .line
        case RESPByte.bulkString, RESPByte.bulkError, RESPByte.verbatimString:
            shape = .blob
        case RESPByte.array, RESPByte.map, RESPByte.set, RESPByte.push, RESPByte.attribute:
            shape = .aggregate
        default:
            throw .unknownType(marker)
        }
        guard let lineEnd = try self.lineEnd(bytes, from: offset + 1, shape, limits) else {
            return nil
        }
        let payload = (offset + 1)..<lineEnd
        let end = lineEnd + 2
        switch shape {
        case .line:
            return RESPToken(kind: try self.lineKind(marker, bytes, payload), end: end)
        case .blob:
            return try self.readBlob(marker, bytes, payload, end, limits)
        case .aggregate:
            if payload.count == 1 && bytes[payload.lowerBound] == RESPByte.questionMark {
                throw .streamedTypeUnsupported
            }
            guard let count = RESPByte.parseStrictInteger(bytes, payload) else {
                throw .invalidMultibulkLength
            }
            if count == -1 && marker == RESPByte.array {
                return RESPToken(kind: .null, end: end)
            }
            guard count >= 0, count <= limits.maximumAggregateLength, let count = Int(exactly: count) else {
                throw .invalidMultibulkLength
            }
            switch marker {
            case RESPByte.array:
                return RESPToken(kind: .array(count), end: end)
            case RESPByte.set:
                return RESPToken(kind: .set(count), end: end)
            case RESPByte.push:
                return RESPToken(kind: .push(count), end: end)
            case RESPByte.map:
                return RESPToken(kind: .map(count), end: end)
            default:
                return RESPToken(kind: .attribute(count), end: end)
            }
        }
    }

    /// The index of the CR ending the line that starts at `start`, requiring CRLF strictly.
    private static func lineEnd(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        _ shape: Shape,
        _ limits: RESPParser.Limits
    ) throws(RESPParsingError) -> Int? {
        // Search one byte past the longest allowed line so an over-long line is told apart
        // from an incomplete one without scanning the rest of the buffer.
        let searchEnd = min(bytes.count, start + limits.maximumInlineLength + 1)
        var index = start
        while index < searchEnd {
            let byte = bytes[index]
            if byte == RESPByte.cr {
                guard index + 1 < bytes.count else {
                    return nil
                }
                guard bytes[index + 1] == RESPByte.lf else {
                    throw .expectedCRLF
                }
                return index
            }
            if byte == RESPByte.lf {
                throw .expectedCRLF
            }
            index += 1
        }
        guard bytes.count - start > limits.maximumInlineLength else {
            return nil
        }
        switch shape {
        case .line:
            throw .lineTooLong
        case .blob:
            throw .tooBigBulkCountString
        case .aggregate:
            throw .tooBigMultibulkCountString
        }
    }

    private static func lineKind(
        _ marker: UInt8,
        _ bytes: UnsafeRawBufferPointer,
        _ payload: Range<Int>
    ) throws(RESPParsingError) -> Kind {
        switch marker {
        case RESPByte.simpleString:
            return .simpleString(payload)
        case RESPByte.simpleError:
            return .simpleError(payload)
        case RESPByte.integer:
            guard let value = RESPByte.parseStrictInteger(bytes, payload) else {
                throw .invalidInteger
            }
            return .integer(value)
        case RESPByte.null:
            guard payload.isEmpty else {
                throw .invalidNull
            }
            return .null
        case RESPByte.boolean:
            guard payload.count == 1 else {
                throw .invalidBoolean
            }
            switch bytes[payload.lowerBound] {
            case UInt8(ascii: "t"):
                return .boolean(true)
            case UInt8(ascii: "f"):
                return .boolean(false)
            default:
                throw .invalidBoolean
            }
        case RESPByte.double:
            return .double(try self.parseDouble(bytes, payload))
        default:
            // Like hiredis: digits with an optional leading minus sign.
            var index = payload.lowerBound
            if index < payload.upperBound && bytes[index] == RESPByte.minus {
                index += 1
            }
            guard index < payload.upperBound else {
                throw .invalidBigNumber
            }
            while index < payload.upperBound {
                guard bytes[index] &- RESPByte.zero < 10 else {
                    throw .invalidBigNumber
                }
                index += 1
            }
            return .bigNumber(payload)
        }
    }

    private static func readBlob(
        _ marker: UInt8,
        _ bytes: UnsafeRawBufferPointer,
        _ header: Range<Int>,
        _ dataStart: Int,
        _ limits: RESPParser.Limits
    ) throws(RESPParsingError) -> RESPToken? {
        if header.count == 1 && bytes[header.lowerBound] == RESPByte.questionMark {
            throw .streamedTypeUnsupported
        }
        guard let announced = RESPByte.parseStrictInteger(bytes, header) else {
            throw .invalidBulkLength
        }
        if announced == -1 && marker == RESPByte.bulkString {
            return RESPToken(kind: .null, end: dataStart)
        }
        guard announced >= 0, announced <= limits.maximumBulkLength, let length = Int(exactly: announced) else {
            throw .invalidBulkLength
        }
        // Written as a subtraction so a huge length cannot overflow.
        guard bytes.count - dataStart - 2 >= length else {
            return nil
        }
        let dataEnd = dataStart + length
        guard bytes[dataEnd] == RESPByte.cr, bytes[dataEnd + 1] == RESPByte.lf else {
            throw .expectedCRLF
        }
        let payload = dataStart..<dataEnd
        switch marker {
        case RESPByte.bulkString:
            return RESPToken(kind: .bulkString(payload), end: dataEnd + 2)
        case RESPByte.bulkError:
            return RESPToken(kind: .bulkError(payload), end: dataEnd + 2)
        default:
            guard length >= 4, bytes[dataStart + 3] == RESPByte.colon else {
                throw .invalidVerbatimString
            }
            return RESPToken(kind: .verbatimString(payload), end: dataEnd + 2)
        }
    }

    /// Accepts what hiredis accepts: `inf`, `-inf`, `nan`, `-nan` (any case) and finite decimals
    /// such as `1`, `-1.5`, `.5`, `1e-3`; rejects hexadecimal floats, spaces and overflow to infinity.
    private static func parseDouble(
        _ bytes: UnsafeRawBufferPointer,
        _ payload: Range<Int>
    ) throws(RESPParsingError) -> Double {
        var text = ""
        for index in payload {
            let byte = bytes[index]
            guard byte < 0x80 else {
                throw .invalidDouble
            }
            // Lowercased so `INF` and `NaN` match, as with hiredis's strcasecmp.
            let isUppercase = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
            text.unicodeScalars.append(Unicode.Scalar(isUppercase ? byte | 0x20 : byte))
        }
        switch text {
        case "inf":
            return .infinity
        case "-inf":
            return -.infinity
        case "nan", "-nan":
            return .nan
        default:
            let isDecimal = text.utf8.allSatisfy { byte in
                byte &- RESPByte.zero < 10 || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                    || byte == UInt8(ascii: "+") || byte == RESPByte.minus
            }
            guard isDecimal, let value = Double(text), value.isFinite else {
                throw .invalidDouble
            }
            return value
        }
    }
}
