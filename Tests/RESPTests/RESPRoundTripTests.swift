import NIOCore
import RESP
import Testing

@Suite("Round trips")
struct RESPRoundTripTests {
    static let resp2Values: [RESPValue] = [
        .init(simpleString: "OK"),
        .init(simpleString: ""),
        .init(simpleError: "ERR wrong number of arguments"),
        .integer(0),
        .integer(.min),
        .integer(.max),
        .init(bulkString: ""),
        .init(bulkString: [0, 13, 10, 255, 36]),
        .null,
        .array([]),
        .array([.integer(1), .init(bulkString: "two"), .null, .array([.init(simpleString: "nested")])]),
    ]

    static let resp3Values: [RESPValue] =
        resp2Values + [
            .double(0),
            .double(-1.5),
            .double(1e-300),
            .double(.greatestFiniteMagnitude),
            .double(.infinity),
            .double(-.infinity),
            .boolean(true),
            .boolean(false),
            .bigNumber(buffer("-98765432109876543210")),
            .init(bulkError: "SYNTAX bad\r\nsyntax"),
            .init(verbatimString: "line one\r\nline two"),
            .init(verbatimString: "# title", format: "mkd"),
            .map([]),
            .map([
                .init(key: .init(simpleString: "k"), value: .set([.integer(1), .integer(1)])),
                .init(key: .array([.null]), value: .push([.boolean(true)])),
            ]),
            .set([]),
            .push([.init(bulkString: "message"), .init(bulkString: "channel"), .init(bulkString: "payload")]),
        ]

    @Test(arguments: resp2Values)
    func resp2(value: RESPValue) throws {
        #expect(try parseAll(encoded(value, .v2)) == [value])
    }

    @Test(arguments: resp3Values)
    func resp3(value: RESPValue) throws {
        #expect(try parseAll(encoded(value, .v3)) == [value])
    }

    @Test func nanRoundTrips() throws {
        let values = try parseAll(encoded(.double(.nan), .v3))
        #expect(values.first?.doubleValue?.isNaN == true)
    }

    @Test func nullArrayParsesAsNull() throws {
        var output = ByteBuffer()
        output.writeNullArray(protocol: .v2)
        output.writeNullArray(protocol: .v3)
        #expect(try parseAll(output) == [.null, .null])
    }

    @Test(arguments: resp3Values)
    func resp3ValuesDowngradeAsRedisDoes(value: RESPValue) throws {
        let parsed = try parseAll(encoded(value, .v2))
        #expect(parsed.count == 1)
        #expect(parsed.first.map { Self.isDowngrade($0, of: value) } == true, "\(value) -> \(parsed)")
    }

    /// Whether `parsed` is what Redis sends a RESP2 client for `original`.
    static func isDowngrade(_ parsed: RESPValue, of original: RESPValue) -> Bool {
        switch original {
        case .simpleString, .simpleError, .integer, .bulkString, .null:
            return parsed == original
        case .double(let double):
            guard case .bulkString(let text) = parsed, let reparsed = Double(String(buffer: text)) else {
                return false
            }
            return reparsed == double || (reparsed.isNaN && double.isNaN)
        case .boolean(let bool):
            return parsed == .integer(bool ? 1 : 0)
        case .bigNumber(let digits):
            return parsed == .bulkString(digits)
        case .bulkError(let bytes):
            let sanitized = bytes.readableBytesView.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 }
            return parsed == .simpleError(ByteBuffer(bytes: sanitized))
        case .verbatimString:
            return parsed.bufferValue == original.bufferValue && parsed == .bulkString(original.bufferValue!)
        case .array(let elements), .set(let elements), .push(let elements):
            return zipAll(parsed.arrayValue, elements)
        case .map(let pairs):
            return zipAll(parsed.arrayValue, pairs.flatMap { [$0.key, $0.value] })
        }
    }

    private static func zipAll(_ parsed: [RESPValue]?, _ originals: [RESPValue]) -> Bool {
        guard case .some(let parsed) = parsed, parsed.count == originals.count else {
            return false
        }
        return zip(parsed, originals).allSatisfy { isDowngrade($0, of: $1) }
    }
}
