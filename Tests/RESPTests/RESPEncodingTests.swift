import NIOCore
import RESP
import Testing

@Suite("Encoder golden bytes")
struct RESPEncodingTests {
    @Test func simpleString() {
        #expect(written { $0.writeSimpleString("OK") } == "+OK\r\n")
        #expect(written { $0.writeSimpleString("") } == "+\r\n")
    }

    @Test func lineBreaksInLinesBecomeSpaces() {
        #expect(written { $0.writeSimpleString("a\r\nb") } == "+a  b\r\n")
        #expect(written { $0.writeError("ERR bad\r\n+OK") } == "-ERR bad  +OK\r\n")
        #expect(written { $0.writeRESPValue(.simpleString(buffer("x\ny")), protocol: .v3) } == "+x y\r\n")
    }

    @Test func linesAfterExistingBytesAreOnlySanitizedInTheirOwnRange() {
        var output = ByteBuffer(string: "\r\n")
        output.moveReaderIndex(forwardBy: 1)
        output.writeError("ERR a\rb")
        #expect(String(buffer: output) == "\n-ERR a b\r\n")
    }

    @Test func error() {
        #expect(written { $0.writeError("ERR unknown command 'foo'") } == "-ERR unknown command 'foo'\r\n")
        #expect(
            written { $0.writeError("WRONGTYPE Operation against a key") } == "-WRONGTYPE Operation against a key\r\n")
    }

    @Test(arguments: [
        (Int64(0), ":0\r\n"), (1, ":1\r\n"), (-1, ":-1\r\n"), (9, ":9\r\n"), (10, ":10\r\n"),
        (-10, ":-10\r\n"), (99, ":99\r\n"), (100, ":100\r\n"), (1_234_567_890, ":1234567890\r\n"),
        (.max, ":9223372036854775807\r\n"), (.min, ":-9223372036854775808\r\n"),
        (.min + 1, ":-9223372036854775807\r\n"),
    ])
    func integer(value: Int64, expected: String) {
        #expect(written { $0.writeRESPInteger(value) } == expected)
        #expect(written { $0.writeRESPValue(.integer(value), protocol: .v2) } == expected)
        #expect(written { $0.writeRESPValue(.integer(value), protocol: .v3) } == expected)
    }

    @Test func intCountsAreWrittenAsDecimal() {
        #expect(written { $0.writeRESPInteger(42) } == ":42\r\n")
        #expect(written { $0.writeRESPInteger([1, 2, 3].count) } == ":3\r\n")
        #expect(written { $0.writeRESPInteger(Int.min) } == ":-9223372036854775808\r\n")
    }

    @Test func nioBinaryIntegerWriterIsNotShadowed() {
        var output = ByteBuffer()
        output.writeInteger(Int64(258))
        output.writeInteger(258)
        #expect(Array(output.readableBytesView) == [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 1, 2])
    }

    @Test func bulkStrings() {
        #expect(written { $0.writeBulkString("foo") } == "$3\r\nfoo\r\n")
        #expect(written { $0.writeBulkString("") } == "$0\r\n\r\n")
        #expect(written { $0.writeBulkString("é") } == "$2\r\né\r\n")
        #expect(written { $0.writeBulkString(buffer("a\r\nb")) } == "$4\r\na\r\nb\r\n")
        #expect(written { $0.writeBulkString([UInt8]([0, 13, 10])) } == "$3\r\n\u{0}\r\n\r\n")
        #expect(written { $0.writeBulkString("hello".utf8) } == "$5\r\nhello\r\n")
    }

    @Test func bulkStringOfASliceWritesOnlyItsReadableBytes() {
        var source = buffer("xxhelloyy")
        source.moveReaderIndex(forwardBy: 2)
        source.moveWriterIndex(to: 7)
        #expect(written { $0.writeBulkString(source) } == "$5\r\nhello\r\n")
    }

    @Test func nulls() {
        #expect(written { $0.writeNull(protocol: .v2) } == "$-1\r\n")
        #expect(written { $0.writeNull(protocol: .v3) } == "_\r\n")
        #expect(written { $0.writeNullArray(protocol: .v2) } == "*-1\r\n")
        #expect(written { $0.writeNullArray(protocol: .v3) } == "_\r\n")
    }

    @Test func aggregateHeaders() {
        #expect(written { $0.writeArrayHeader(3) } == "*3\r\n")
        #expect(written { $0.writeArrayHeader(0) } == "*0\r\n")
        #expect(written { $0.writeMapHeader(2, protocol: .v2) } == "*4\r\n")
        #expect(written { $0.writeMapHeader(2, protocol: .v3) } == "%2\r\n")
        #expect(written { $0.writeSetHeader(5, protocol: .v2) } == "*5\r\n")
        #expect(written { $0.writeSetHeader(5, protocol: .v3) } == "~5\r\n")
        #expect(written { $0.writePushHeader(3, protocol: .v2) } == "*3\r\n")
        #expect(written { $0.writePushHeader(3, protocol: .v3) } == ">3\r\n")
    }

    @Test(arguments: [
        (1.5, "1.5"), (1.0, "1"), (0.0, "0"), (-0.0, "-0"), (-2.25, "-2.25"), (0.1, "0.1"),
        (1e20, "1e+20"), (1.5e-7, "1.5e-07"), (Double.infinity, "inf"), (-Double.infinity, "-inf"),
        (Double.nan, "nan"), (3.141592653589793, "3.141592653589793"),
    ])
    func doubles(value: Double, text: String) {
        #expect(written { $0.writeDouble(value, protocol: .v3) } == ",\(text)\r\n")
        #expect(written { $0.writeDouble(value, protocol: .v2) } == "$\(text.utf8.count)\r\n\(text)\r\n")
    }

    @Test func booleans() {
        #expect(written { $0.writeBoolean(true, protocol: .v3) } == "#t\r\n")
        #expect(written { $0.writeBoolean(false, protocol: .v3) } == "#f\r\n")
        #expect(written { $0.writeBoolean(true, protocol: .v2) } == ":1\r\n")
        #expect(written { $0.writeBoolean(false, protocol: .v2) } == ":0\r\n")
    }

    @Test func verbatimStrings() {
        #expect(written { $0.writeVerbatimString("Some string", protocol: .v3) } == "=15\r\ntxt:Some string\r\n")
        #expect(written { $0.writeVerbatimString("# hi", format: "mkd", protocol: .v3) } == "=8\r\nmkd:# hi\r\n")
        #expect(written { $0.writeVerbatimString("Some string", protocol: .v2) } == "$11\r\nSome string\r\n")
    }

    static let valueGoldens: [(RESPValue, v2: String, v3: String)] = [
        (.init(simpleString: "OK"), "+OK\r\n", "+OK\r\n"),
        (.init(simpleError: "ERR no"), "-ERR no\r\n", "-ERR no\r\n"),
        (.integer(-7), ":-7\r\n", ":-7\r\n"),
        (.init(bulkString: "hi"), "$2\r\nhi\r\n", "$2\r\nhi\r\n"),
        (.null, "$-1\r\n", "_\r\n"),
        (.array([]), "*0\r\n", "*0\r\n"),
        (.array([.integer(1), .init(bulkString: "a")]), "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n$1\r\na\r\n"),
        (.double(2.5), "$3\r\n2.5\r\n", ",2.5\r\n"),
        (.boolean(true), ":1\r\n", "#t\r\n"),
        (
            .bigNumber(buffer("-123456789012345678901234567890")),
            "$31\r\n-123456789012345678901234567890\r\n", "(-123456789012345678901234567890\r\n"
        ),
        (.init(bulkError: "SYNTAX bad\r\nthing"), "-SYNTAX bad  thing\r\n", "!17\r\nSYNTAX bad\r\nthing\r\n"),
        (.init(verbatimString: "Some string"), "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"),
        (
            .map([.init(key: .init(simpleString: "a"), value: .integer(1)), .init(key: .integer(2), value: .null)]),
            "*4\r\n+a\r\n:1\r\n:2\r\n$-1\r\n", "%2\r\n+a\r\n:1\r\n:2\r\n_\r\n"
        ),
        (.set([.integer(1), .boolean(false)]), "*2\r\n:1\r\n:0\r\n", "~2\r\n:1\r\n#f\r\n"),
        (
            .push([.init(bulkString: "message"), .init(bulkString: "ch")]),
            "*2\r\n$7\r\nmessage\r\n$2\r\nch\r\n", ">2\r\n$7\r\nmessage\r\n$2\r\nch\r\n"
        ),
        (
            .array([.map([.init(key: .set([]), value: .array([.double(.infinity)]))])]),
            "*1\r\n*2\r\n*0\r\n*1\r\n$3\r\ninf\r\n", "*1\r\n%1\r\n~0\r\n*1\r\n,inf\r\n"
        ),
    ]

    @Test(arguments: valueGoldens)
    func writeRESPValue(value: RESPValue, v2: String, v3: String) {
        #expect(written { $0.writeRESPValue(value, protocol: .v2) } == v2)
        #expect(written { $0.writeRESPValue(value, protocol: .v3) } == v3)
    }

    @Test func writersAppendAfterExistingBytes() {
        var output = buffer("prefix")
        output.writeArrayHeader(2)
        output.writeBulkString("GET")
        output.writeRESPInteger(5)
        #expect(String(buffer: output) == "prefix*2\r\n$3\r\nGET\r\n:5\r\n")
    }
}
