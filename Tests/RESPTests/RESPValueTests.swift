import NIOCore
import RESP
import Testing

@Suite("RESPValue conveniences")
struct RESPValueTests {
    @Test func stringInitializers() {
        #expect(RESPValue(simpleString: "OK") == .simpleString(buffer("OK")))
        #expect(RESPValue(simpleError: "ERR x") == .simpleError(buffer("ERR x")))
        #expect(RESPValue(bulkString: "v") == .bulkString(buffer("v")))
        #expect(RESPValue(bulkString: [0, 255]) == .bulkString(ByteBuffer(bytes: [0, 255])))
        #expect(RESPValue(bulkError: "SYNTAX") == .bulkError(buffer("SYNTAX")))
        #expect(RESPValue(verbatimString: "text") == .verbatimString(buffer("txt:text")))
        #expect(RESPValue(verbatimString: "# h", format: "mkd") == .verbatimString(buffer("mkd:# h")))
    }

    @Test func stringValue() {
        #expect(RESPValue(simpleString: "OK").stringValue == "OK")
        #expect(RESPValue(bulkString: "héllo").stringValue == "héllo")
        #expect(RESPValue(simpleError: "ERR x").stringValue == "ERR x")
        #expect(RESPValue(bulkError: "E").stringValue == "E")
        #expect(RESPValue.bigNumber(buffer("-12")).stringValue == "-12")
        #expect(RESPValue(verbatimString: "text").stringValue == "text")
        #expect(RESPValue.integer(1).stringValue == nil)
        #expect(RESPValue.null.stringValue == nil)
        #expect(RESPValue.array([]).stringValue == nil)
    }

    @Test func verbatimFormat() {
        #expect(RESPValue(verbatimString: "x", format: "mkd").verbatimFormat == "mkd")
        #expect(RESPValue(verbatimString: "").verbatimFormat == "txt")
        #expect(RESPValue(verbatimString: "").stringValue == "")
        #expect(RESPValue.verbatimString(buffer("no")).verbatimFormat == nil)
        #expect(RESPValue.verbatimString(buffer("no")).stringValue == "no")
        #expect(RESPValue(bulkString: "txt:x").verbatimFormat == nil)
    }

    @Test func scalarAccessors() {
        #expect(RESPValue.integer(-3).integerValue == -3)
        #expect(RESPValue(bulkString: "3").integerValue == nil)
        #expect(RESPValue.double(0.5).doubleValue == 0.5)
        #expect(RESPValue.integer(1).doubleValue == nil)
        #expect(RESPValue.boolean(true).boolValue == true)
        #expect(RESPValue.integer(1).boolValue == nil)
        #expect(RESPValue(bulkString: [1, 2]).bufferValue == ByteBuffer(bytes: [1, 2]))
    }

    @Test func aggregateAccessors() {
        let elements: [RESPValue] = [.integer(1), .null]
        #expect(RESPValue.array(elements).arrayValue == elements)
        #expect(RESPValue.set(elements).arrayValue == elements)
        #expect(RESPValue.push(elements).arrayValue == elements)
        #expect(RESPValue.map([]).arrayValue == nil)
        let pairs = [RESPKeyValuePair(key: .integer(1), value: .boolean(false))]
        #expect(RESPValue.map(pairs).mapValue == pairs)
        #expect(RESPValue.array([]).mapValue == nil)
    }

    @Test func predicates() {
        #expect(RESPValue.null.isNull)
        #expect(!RESPValue.array([]).isNull)
        #expect(RESPValue(simpleError: "ERR").isError)
        #expect(RESPValue(bulkError: "ERR").isError)
        #expect(!RESPValue(simpleString: "ERR").isError)
    }

    @Test func equalityComparesBytesNotBufferLayout() {
        var sliced = buffer("__abc__")
        sliced.moveReaderIndex(forwardBy: 2)
        sliced.moveWriterIndex(to: 5)
        #expect(RESPValue.bulkString(sliced) == RESPValue(bulkString: "abc"))
        #expect(RESPValue.bulkString(sliced) != RESPValue(simpleString: "abc"))
        #expect(Set([RESPValue.bulkString(sliced), RESPValue(bulkString: "abc")]).count == 1)
    }

    @Test func debugDescriptionIsReadable() {
        let value = RESPValue.array([
            .init(bulkString: "a\r\n"), .integer(2), .null,
            .map([.init(key: .init(simpleString: "k"), value: .boolean(true))]),
        ])
        #expect(
            value.debugDescription
                == #"array([bulkString("a\r\n"), integer(2), null, map([simpleString("k"): boolean(true)])])"#)
    }

    @Test func protocolVersionRawValues() {
        #expect(RESPProtocolVersion(rawValue: 2) == .v2)
        #expect(RESPProtocolVersion(rawValue: 3) == .v3)
        #expect(RESPProtocolVersion(rawValue: 1) == nil)
    }
}
