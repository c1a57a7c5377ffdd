import NIOCore
import RESP
import Testing

@Suite("Value parser")
struct RESPParserTests {
    static let goldens: [(String, RESPValue)] = [
        ("+OK\r\n", .init(simpleString: "OK")),
        ("+\r\n", .init(simpleString: "")),
        ("-ERR unknown\r\n", .init(simpleError: "ERR unknown")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .init(bulkString: "hello")),
        ("$0\r\n\r\n", .init(bulkString: "")),
        ("$4\r\na\r\nb\r\n", .init(bulkString: "a\r\nb")),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("*0\r\n", .array([])),
        ("*2\r\n:1\r\n*1\r\n+x\r\n", .array([.integer(1), .array([.init(simpleString: "x")])])),
        (",1.5\r\n", .double(1.5)),
        (",-2\r\n", .double(-2)),
        (",.5\r\n", .double(0.5)),
        (",+1e3\r\n", .double(1000)),
        (",1E-2\r\n", .double(0.01)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        (",INF\r\n", .double(.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        (
            "(3492890328409238509324850943850943825024385\r\n",
            .bigNumber(buffer("3492890328409238509324850943850943825024385"))
        ),
        ("(-1\r\n", .bigNumber(buffer("-1"))),
        ("!21\r\nSYNTAX invalid syntax\r\n", .init(bulkError: "SYNTAX invalid syntax")),
        ("=15\r\ntxt:Some string\r\n", .init(verbatimString: "Some string")),
        (
            "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
            .map([
                .init(key: .init(simpleString: "first"), value: .integer(1)),
                .init(key: .init(simpleString: "second"), value: .integer(2)),
            ])
        ),
        ("%0\r\n", .map([])),
        ("~2\r\n+a\r\n+a\r\n", .set([.init(simpleString: "a"), .init(simpleString: "a")])),
        (
            ">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n",
            .push([
                .init(simpleString: "message"), .init(simpleString: "ch"), .init(bulkString: "hi"),
            ])
        ),
        ("|1\r\n+ttl\r\n:3600\r\n+value\r\n", .init(simpleString: "value")),
        ("|0\r\n:1\r\n", .integer(1)),
        ("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", .array([.integer(1), .integer(2)])),
        ("|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n*1\r\n:1\r\n", .array([.integer(1)])),
    ]

    @Test(arguments: goldens)
    func parsesGolden(input: String, expected: RESPValue) throws {
        #expect(try parseAll(buffer(input)) == [expected])
    }

    @Test func nanParses() throws {
        for input in [",nan\r\n", ",-nan\r\n", ",NaN\r\n"] {
            let values = try parseAll(buffer(input))
            #expect(values.count == 1)
            #expect(values.first?.doubleValue?.isNaN == true)
        }
    }

    @Test func bulkStringsAreZeroCopySlices() throws {
        var input = buffer("*2\r\n$5\r\nhello\r\n$3\r\nabc\r\n")
        let start = try #require(baseAddress(input))
        var parser = RESPParser()
        let value = try #require(try parser.next(from: &input))
        let elements = try #require(value.arrayValue)
        #expect(elements.count == 2)
        let hello = try #require(elements.first?.bufferValue)
        let abc = try #require(elements.last?.bufferValue)
        #expect(baseAddress(hello) == start + 8)
        #expect(baseAddress(abc) == start + 19)
    }

    static let frames: [String] = [
        "+OK\r\n",
        ":-12345\r\n",
        "$10\r\n0123\r\n6789\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n%1\r\n+k\r\n~1\r\n,1.25\r\n",
        "%2\r\n+a\r\n*1\r\n#t\r\n$1\r\nb\r\n>1\r\n_\r\n",
        "|1\r\n+meta\r\n(12\r\n=8\r\nmkd:# hi\r\n",
        "!3\r\nERR\r\n",
        "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    ]

    @Test(arguments: frames)
    func everyStrictPrefixIsIncompleteAndConsumesNothing(frame: String) throws {
        let bytes = Array(frame.utf8)
        var incremental = RESPParser()
        for length in 0..<bytes.count {
            var fresh = RESPParser()
            var prefix = ByteBuffer(bytes: bytes[0..<length])
            #expect(try fresh.next(from: &prefix) == nil, "prefix \(length) of \(frame.debugDescription)")
            #expect(prefix.readableBytes == length)
            var growing = ByteBuffer(bytes: bytes[0..<length])
            #expect(try incremental.next(from: &growing) == nil)
            #expect(growing.readableBytes == length)
        }
        var whole = ByteBuffer(bytes: bytes)
        #expect(try incremental.next(from: &whole) != nil)
        #expect(whole.readableBytes == 0)
    }

    @Test func everyPrefixOfAPipelineYieldsExactlyItsCompleteFrames() throws {
        let expected = try Self.frames.flatMap { try parseAll(buffer($0)) }
        #expect(expected.count == Self.frames.count)
        let bytes = Array(Self.frames.joined().utf8)
        var frameEnds: [Int] = []
        for frame in Self.frames {
            frameEnds.append((frameEnds.last ?? 0) + frame.utf8.count)
        }
        for length in 0...bytes.count {
            var parser = RESPParser()
            var prefix = ByteBuffer(bytes: bytes[0..<length])
            var values: [RESPValue] = []
            while let value = try parser.next(from: &prefix) {
                values.append(value)
            }
            let complete = frameEnds.filter { $0 <= length }
            #expect(values == Array(expected.prefix(complete.count)))
            #expect(prefix.readableBytes == length - (complete.last ?? 0))
        }
    }

    @Test func pipelineFedOneByteAtATimeYieldsFramesInOrder() throws {
        let pipeline = Array(Self.frames.joined().utf8)
        let expected = try parseAll(ByteBuffer(bytes: pipeline))
        #expect(expected.count == Self.frames.count)
        var parser = RESPParser()
        var input = ByteBuffer()
        var values: [RESPValue] = []
        for byte in pipeline {
            input.writeInteger(byte, as: UInt8.self)
            while let value = try parser.next(from: &input) {
                values.append(value)
            }
        }
        #expect(values == expected)
        #expect(input.readableBytes == 0)
    }

    @Test func largeBulkArrivingInSmallReadsIsNotRescanned() throws {
        let length = 32 * 1024 * 1024
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var input = ByteBuffer()
        input.writeString("$\(length)\r\n")
        var parser = RESPParser()
        let clock = ContinuousClock()
        var result: RESPValue?
        let elapsed = try clock.measure {
            for _ in 0..<(length / chunk.count) {
                #expect(try parser.next(from: &input) == nil)
                input.writeBytes(chunk)
            }
            #expect(try parser.next(from: &input) == nil)
            input.writeString("\r\n")
            result = try parser.next(from: &input)
        }
        #expect(result?.bufferValue?.readableBytes == length)
        // 512 polls; rescanning the payload each time would touch ~8 GiB.
        #expect(elapsed < .seconds(2))
    }

    @Test func manySmallElementsArrivingSlowlyAreScannedOnce() throws {
        let count = 200_000
        var input = ByteBuffer()
        input.writeString("*\(count)\r\n")
        var parser = RESPParser()
        let clock = ContinuousClock()
        var result: RESPValue?
        let elapsed = try clock.measure {
            for index in 0..<count {
                input.writeString(":1\r\n")
                if index % 100 == 0 {
                    #expect(try parser.next(from: &input) == nil)
                }
            }
            result = try parser.next(from: &input)
        }
        #expect(result?.arrayValue?.count == count)
        // 2000 polls; rescanning each time would parse ~200 million elements.
        #expect(elapsed < .seconds(5))
    }

    static let errors: [(String, RESPParsingError.Code)] = [
        ("$9999999999999\r\n", .invalidBulkLength),
        ("$99999999999999999999999\r\n", .invalidBulkLength),
        ("$-2\r\n", .invalidBulkLength),
        ("$-10\r\n", .invalidBulkLength),
        ("$+3\r\nabc\r\n", .invalidBulkLength),
        ("$03\r\nabc\r\n", .invalidBulkLength),
        ("$\r\n", .invalidBulkLength),
        ("$ 3\r\nabc\r\n", .invalidBulkLength),
        ("!-1\r\n", .invalidBulkLength),
        ("=-1\r\n", .invalidBulkLength),
        ("*2147483647\r\n", .invalidMultibulkLength),
        ("*1048577\r\n", .invalidMultibulkLength),
        ("*-2\r\n", .invalidMultibulkLength),
        ("%-1\r\n", .invalidMultibulkLength),
        ("~-1\r\n", .invalidMultibulkLength),
        (">x\r\n", .invalidMultibulkLength),
        ("|-1\r\n", .invalidMultibulkLength),
        (":+1\r\n", .invalidInteger),
        (":01\r\n", .invalidInteger),
        (":-0\r\n", .invalidInteger),
        (":\r\n", .invalidInteger),
        (":-\r\n", .invalidInteger),
        (":1.0\r\n", .invalidInteger),
        (":9223372036854775808\r\n", .invalidInteger),
        (":-9223372036854775809\r\n", .invalidInteger),
        ("+OK\n", .expectedCRLF),
        ("+OK\rX", .expectedCRLF),
        ("+O\nK\r\n", .expectedCRLF),
        ("$3\r\nfooXY", .expectedCRLF),
        ("$3\r\nfoo\n\n", .expectedCRLF),
        ("*1\rX", .expectedCRLF),
        ("#x\r\n", .invalidBoolean),
        ("#tt\r\n", .invalidBoolean),
        ("#\r\n", .invalidBoolean),
        ("_x\r\n", .invalidNull),
        (",\r\n", .invalidDouble),
        (",abc\r\n", .invalidDouble),
        (",1e400\r\n", .invalidDouble),
        (",0x1p3\r\n", .invalidDouble),
        (",infinity\r\n", .invalidDouble),
        (", 1\r\n", .invalidDouble),
        (",1,5\r\n", .invalidDouble),
        ("(12a\r\n", .invalidBigNumber),
        ("(\r\n", .invalidBigNumber),
        ("(-\r\n", .invalidBigNumber),
        ("(+1\r\n", .invalidBigNumber),
        ("=3\r\ntxt\r\n", .invalidVerbatimString),
        ("=4\r\ntxtx\r\n", .invalidVerbatimString),
        ("?\r\n", .unknownType),
        ("hello\r\n", .unknownType),
        ("\r\n", .unknownType),
        ("*?\r\n", .streamedTypeUnsupported),
        ("$?\r\n", .streamedTypeUnsupported),
        ("%?\r\n", .streamedTypeUnsupported),
        ("*2\r\n:1\r\n?\r\n", .unknownType),
    ]

    @Test(arguments: errors)
    func rejects(input: String, code: RESPParsingError.Code) {
        let error = valueParseError(buffer(input))
        #expect(error?.code == code, "\(input.debugDescription) -> \(String(describing: error))")
        #expect(error.map { $0.description == $0.message } == true)
    }

    @Test func errorMessages() {
        #expect(valueParseError(buffer("$-2\r\n"))?.message == "Protocol error: invalid bulk length")
        #expect(valueParseError(buffer("*-2\r\n"))?.message == "Protocol error: invalid multibulk length")
        #expect(valueParseError(buffer("?\r\n"))?.message == "Protocol error: unknown type byte '?'")
    }

    @Test(arguments: ["$9999999999999\r\n", "*2147483647\r\n", "$2147483648\r\n", "%9223372036854775807\r\n"])
    func absurdLengthsFailPromptlyWithoutAllocating(input: String) {
        var bytes = buffer(input)
        let capacity = bytes.capacity
        var parser = RESPParser()
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: RESPParsingError.self) {
                _ = try parser.next(from: &bytes)
            }
        }
        #expect(elapsed < .milliseconds(100))
        #expect(bytes.capacity == capacity)
        #expect(bytes.readableBytes == input.utf8.count)
    }

    @Test func plausibleLengthsWaitForBytesWithoutAllocating() throws {
        for input in ["*1048576\r\n", "$536870912\r\n", "*1048576\r\n*1048576\r\n$536870912\r\nabc", "%1048576\r\n"] {
            var bytes = buffer(input)
            let capacity = bytes.capacity
            var parser = RESPParser()
            #expect(try parser.next(from: &bytes) == nil)
            #expect(bytes.capacity == capacity)
            #expect(bytes.readableBytes == input.utf8.count)
        }
    }

    @Test func overLongLinesAreRejected() {
        let limits = RESPParser.Limits(maximumInlineLength: 16)
        let long = String(repeating: "1", count: 17)
        #expect(valueParseError(buffer("+" + long), limits: limits)?.code == .lineTooLong)
        #expect(valueParseError(buffer("$" + long), limits: limits)?.code == .tooBigBulkCountString)
        #expect(valueParseError(buffer("*" + long), limits: limits)?.code == .tooBigMultibulkCountString)
        #expect(valueParseError(buffer("+" + String(repeating: "a", count: 16)), limits: limits) == nil)
        #expect(valueParseError(buffer("+" + String(repeating: "a", count: 70_000)))?.code == .lineTooLong)
    }

    @Test func longestAllowedLineParses() throws {
        let limits = RESPParser.Limits(maximumInlineLength: 16)
        let line = String(repeating: "a", count: 16)
        #expect(try parseAll(buffer("+\(line)\r\n"), limits: limits) == [.init(simpleString: line)])
    }

    @Test func customBulkLimit() throws {
        let limits = RESPParser.Limits(maximumBulkLength: 10)
        #expect(try parseAll(buffer("$10\r\n0123456789\r\n"), limits: limits).count == 1)
        #expect(valueParseError(buffer("$11\r\n"), limits: limits)?.code == .invalidBulkLength)
    }

    @Test func customAggregateLimitCountsPairs() throws {
        let limits = RESPParser.Limits(maximumAggregateLength: 2)
        #expect(try parseAll(buffer("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n"), limits: limits).count == 1)
        #expect(valueParseError(buffer("%3\r\n"), limits: limits)?.code == .invalidMultibulkLength)
        #expect(valueParseError(buffer("*3\r\n"), limits: limits)?.code == .invalidMultibulkLength)
    }

    @Test func deepNestingIsRejectedWithoutRecursion() {
        let input = String(repeating: "*1\r\n", count: 100_000) + ":1\r\n"
        #expect(valueParseError(buffer(input))?.code == .nestingTooDeep)
        #expect(valueParseError(buffer(String(repeating: "|0\r\n", count: 100_000)))?.code == .nestingTooDeep)
        #expect(valueParseError(buffer(String(repeating: "%1\r\n", count: 100_000)))?.code == .nestingTooDeep)
    }

    @Test func nestingUpToTheLimitParses() throws {
        var expected = RESPValue.integer(1)
        for _ in 0..<64 {
            expected = .array([expected])
        }
        let atLimit = String(repeating: "*1\r\n", count: 64) + ":1\r\n"
        #expect(try parseAll(buffer(atLimit)) == [expected])
        let overLimit = String(repeating: "*1\r\n", count: 65) + ":1\r\n"
        #expect(valueParseError(buffer(overLimit))?.code == .nestingTooDeep)
        let custom = RESPParser.Limits(maximumDepth: 2)
        #expect(try parseAll(buffer("*1\r\n*1\r\n*0\r\n"), limits: custom).count == 1)
        #expect(valueParseError(buffer("*1\r\n*1\r\n*1\r\n:1\r\n"), limits: custom)?.code == .nestingTooDeep)
    }

    @Test func parserIsReusableAfterAnError() throws {
        var parser = RESPParser()
        var bad = buffer("*2\r\n:1\r\n:x\r\n")
        #expect(throws: RESPParsingError.self) {
            _ = try parser.next(from: &bad)
        }
        var good = buffer("+OK\r\n")
        #expect(try parser.next(from: &good) == .init(simpleString: "OK"))
    }

    @Test func switchingToAShorterBufferRestartsTheScan() throws {
        var parser = RESPParser()
        var partial = buffer("*2\r\n$3\r\nabc\r\n")
        #expect(try parser.next(from: &partial) == nil)
        var other = buffer(":7\r\n")
        #expect(try parser.next(from: &other) == .integer(7))
    }

    @Test func emptyBufferIsIncomplete() throws {
        var parser = RESPParser()
        var empty = ByteBuffer()
        #expect(try parser.next(from: &empty) == nil)
    }
}
