import NIOCore
import RESP
import Testing

@Suite("Command parser")
struct RESPCommandParserTests {
    @Test func multibulk() throws {
        #expect(try commands(buffer("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")) == [["SET", "key", "value"]])
        #expect(try commands(buffer("*1\r\n$4\r\nPING\r\n")) == [["PING"]])
        #expect(try commands(buffer("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")) == [["ECHO", ""]])
    }

    @Test func aPartialBulkTellsHowManyBytesItNeeds() throws {
        var parser = RESPCommandParser()
        var input = buffer("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10")
        #expect(try parser.next(from: &input) == nil)
        #expect(parser.readableBytesNeeded == nil, "the last bulk's header is not complete")
        input.writeString("0000\r\nabc")
        #expect(try parser.next(from: &input) == nil)
        // 29 bytes of headers and short arguments, then 100000 and the CRLF.
        #expect(parser.readableBytesNeeded == 29 + 100_000 + 2)
        input.writeString(String(repeating: "x", count: 100_000 - 3) + "\r\n")
        #expect(try parser.next(from: &input)?.count == 3)
        #expect(parser.readableBytesNeeded == nil)
    }

    @Test func aRequestWaitingForItsLastArgumentCanHandItOver() throws {
        var parser = RESPCommandParser()
        var input = buffer("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nab")
        #expect(try parser.next(from: &input) == nil)
        let (leading, length) = try #require(parser.requestAwaitingLastArgument(in: input))
        #expect(leading.map { String(buffer: $0) } == ["SET", "k"])
        #expect(length == 100_000)
        parser.handOverLastArgument(in: &input)
        #expect(String(buffer: input) == "ab", "the buffer starts at the argument's bytes")
        #expect(parser.requestAwaitingLastArgument(in: input) == nil)
        // Once the caller has taken the argument and its CRLF, parsing goes on afresh.
        input.moveReaderIndex(forwardBy: 2)
        input.writeString("*1\r\n$4\r\nPING\r\n")
        #expect(try parser.next(from: &input) == ["PING"].map { ByteBuffer(string: $0) })

        // Not while an argument other than the last is incomplete, nor before the last one's header.
        for partial in ["*3\r\n$3\r\nSET\r\n$10\r\nk", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10", "*2\r\n$3\r\nGET\r\n"] {
            var parser = RESPCommandParser()
            var input = buffer(partial)
            #expect(try parser.next(from: &input) == nil)
            #expect(parser.requestAwaitingLastArgument(in: input) == nil, "\(partial)")
        }
    }

    @Test func argumentsAreBinarySafe() throws {
        var parser = RESPCommandParser()
        var input = buffer("*2\r\n$3\r\nSET\r\n$8\r\na\u{0}b\r\n\r\nc\r\n")
        let arguments = try #require(try parser.next(from: &input))
        #expect(arguments.count == 2)
        #expect(Array(arguments[1].readableBytesView) == [97, 0, 98, 13, 10, 13, 10, 99])
        #expect(input.readableBytes == 0)
    }

    @Test func multibulkArgumentsAreZeroCopySlices() throws {
        var input = buffer("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        let start = try #require(baseAddress(input))
        var parser = RESPCommandParser()
        let arguments = try #require(try parser.next(from: &input))
        #expect(baseAddress(arguments[0]) == start + 8)
        #expect(baseAddress(arguments[1]) == start + 17)
    }

    @Test func plainInlineArgumentsAreZeroCopySlices() throws {
        var input = buffer("GET key\r\n")
        let start = try #require(baseAddress(input))
        var parser = RESPCommandParser()
        let arguments = try #require(try parser.next(from: &input))
        #expect(baseAddress(arguments[0]) == start)
        #expect(baseAddress(arguments[1]) == start + 4)
    }

    @Test func pipelinedCommandsComeOutInOrder() throws {
        let input = "*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nSET b \"c d\"\n*1\r\n$4\r\nQUIT\r\n"
        #expect(try commands(buffer(input)) == [["PING"], ["PING"], ["GET", "a"], ["SET", "b", "c d"], ["QUIT"]])
    }

    @Test func emptyRequestsAreSkipped() throws {
        let input = "*0\r\n*-1\r\n*-10\r\n\r\n\n   \r\n \t \n*1\r\n$4\r\nPING\r\n\r\n"
        #expect(try commands(buffer(input)) == [["PING"]])
    }

    @Test func onlyEmptyRequestsAreConsumedAndYieldNothing() throws {
        var parser = RESPCommandParser()
        var input = buffer("*0\r\n\r\n*1\r\n$4\r\nPI")
        #expect(try parser.next(from: &input) == nil)
        #expect(String(buffer: input) == "*1\r\n$4\r\nPI")
    }

    static let inlineCases: [(String, [[UInt8]])] = [
        ("PING\r\n", [Array("PING".utf8)]),
        ("PING\n", [Array("PING".utf8)]),
        ("  SET   key\tvalue  \r\n", ["SET", "key", "value"].map { Array($0.utf8) }),
        ("SET \"hello world\" x\r\n", ["SET", "hello world", "x"].map { Array($0.utf8) }),
        ("ECHO \"\"\r\n", [Array("ECHO".utf8), []]),
        ("ECHO ''\r\n", [Array("ECHO".utf8), []]),
        ("ECHO \"a\\n\\r\\t\\b\\a\\\\\\\"\\z\"\r\n", [Array("ECHO".utf8), [97, 10, 13, 9, 8, 7, 92, 34, 122]]),
        ("ECHO \"\\x41\\x7a\\xFf\\x00\"\r\n", [Array("ECHO".utf8), [0x41, 0x7A, 0xFF, 0x00]]),
        ("ECHO \"\\x4g\"\r\n", [Array("ECHO".utf8), Array("x4g".utf8)]),
        ("ECHO 'it\\'s'\r\n", [Array("ECHO".utf8), Array("it's".utf8)]),
        ("ECHO 'a\\nb\\\\c'\r\n", [Array("ECHO".utf8), Array("a\\nb\\\\c".utf8)]),
        ("ECHO 'say \"hi\"'\r\n", [Array("ECHO".utf8), Array("say \"hi\"".utf8)]),
        ("ECHO foo\"bar baz\"\r\n", [Array("ECHO".utf8), Array("foobar baz".utf8)]),
        ("ECHO \"a\"\t'b'\r\n", ["ECHO", "a", "b"].map { Array($0.utf8) }),
        ("ECHO a\u{0B}b\r\n", [Array("ECHO".utf8), [97, 0x0B, 98]]),
        ("\u{0B}\u{0C}ECHO x\r\n", ["ECHO", "x"].map { Array($0.utf8) }),
        ("ECHO a\u{0}b\r\n", [Array("ECHO".utf8), [97, 0, 98]]),
        ("ECHO a\rb\r\n", ["ECHO", "a", "b"].map { Array($0.utf8) }),
    ]

    @Test(arguments: inlineCases)
    func inlineCommands(input: String, expected: [[UInt8]]) throws {
        var parser = RESPCommandParser()
        var bytes = buffer(input)
        let arguments = try #require(try parser.next(from: &bytes))
        #expect(arguments.map { Array($0.readableBytesView) } == expected)
        #expect(bytes.readableBytes == 0)
    }

    static let redisErrors: [(String, String)] = [
        ("*20000000\r\n", "Protocol error: invalid multibulk length"),
        ("*3000000000\r\n", "Protocol error: invalid multibulk length"),
        ("*1048577\r\n", "Protocol error: invalid multibulk length"),
        ("*abc\r\n", "Protocol error: invalid multibulk length"),
        ("*+1\r\n", "Protocol error: invalid multibulk length"),
        ("*01\r\n", "Protocol error: invalid multibulk length"),
        ("*\r\n", "Protocol error: invalid multibulk length"),
        ("*1\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length"),
        ("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'"),
        ("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        ("*1\r\n\r\n", "Protocol error: expected '$', got ' '"),
        ("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "Protocol error: invalid bulk length"),
        ("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "Protocol error: invalid bulk length"),
        ("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\n$9999999999999\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\n$+3\r\nabc\r\n", "Protocol error: invalid bulk length"),
        ("*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        ("ECHO \"abc\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO 'abc\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO \"abc\"def\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO \"abc\\\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO \"abc\\\"\r\n", "Protocol error: unbalanced quotes in request"),
        ("ECHO 'abc\\'\r\n", "Protocol error: unbalanced quotes in request"),
    ]

    @Test(arguments: redisErrors)
    func redisErrorTexts(input: String, message: String) {
        let error = commandParseError(buffer(input))
        #expect(error?.message == message, "\(input.debugDescription)")
        #expect(error?.description == message)
    }

    @Test func errorCodes() {
        #expect(commandParseError(buffer("*-x\r\n"))?.code == .invalidMultibulkLength)
        #expect(commandParseError(buffer("*1\r\n$-2\r\n"))?.code == .invalidBulkLength)
        #expect(commandParseError(buffer("*1\r\nx\r\n"))?.code == .expectedBulkString)
        #expect(commandParseError(buffer("'a\n"))?.code == .unbalancedQuotes)
    }

    @Test func tooBigInlineRequest() throws {
        let limit = 64 * 1024
        var parser = RESPCommandParser()
        var atLimit = buffer(String(repeating: "a", count: limit))
        #expect(try parser.next(from: &atLimit) == nil)
        #expect(atLimit.readableBytes == limit)
        atLimit.writeString("\n")
        #expect(try parser.next(from: &atLimit)?.first?.readableBytes == limit)
        let overLimit = buffer(String(repeating: "a", count: limit + 1))
        #expect(commandParseError(overLimit)?.message == "Protocol error: too big inline request")
        let longLine = buffer(String(repeating: "a", count: limit + 1) + "\n")
        #expect(commandParseError(longLine)?.code == .tooBigInlineRequest)
    }

    @Test func tooBigCountStrings() {
        let digits = String(repeating: "1", count: 64 * 1024)
        #expect(commandParseError(buffer("*" + digits))?.message == "Protocol error: too big mbulk count string")
        #expect(commandParseError(buffer("*1\r\n$" + digits))?.message == "Protocol error: too big bulk count string")
        #expect(commandParseError(buffer("*1\r\nxyz" + digits))?.message == "Protocol error: too big bulk count string")
        #expect(commandParseError(buffer(String(digits.dropLast()) + "*")) == nil)
    }

    @Test func headerWaitsForItsWholeLineBeforeCheckingTheMarker() throws {
        var parser = RESPCommandParser()
        var input = buffer("*1\r\nfoo")
        #expect(try parser.next(from: &input) == nil)
        input.writeString("\r\n")
        #expect(throws: RESPParsingError.self) {
            _ = try parser.next(from: &input)
        }
    }

    @Test func crlfIsStrict() {
        #expect(commandParseError(buffer("*1\r\n$3\r\nfooXY"))?.code == .expectedCRLF)
        #expect(commandParseError(buffer("*1\rX"))?.code == .expectedCRLF)
        #expect(commandParseError(buffer("*1\r\n$3\rXfoo\r\n"))?.code == .expectedCRLF)
        #expect(commandParseError(buffer("*1\r\n$3\r\nfoo\r\r"))?.code == .expectedCRLF)
    }

    @Test func customLimits() throws {
        let limits = RESPParser.Limits(maximumBulkLength: 3, maximumAggregateLength: 2)
        #expect(try commands(buffer("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), limits: limits) == [["GET", "key"]])
        #expect(commandParseError(buffer("*1\r\n$4\r\n"), limits: limits)?.code == .invalidBulkLength)
        #expect(commandParseError(buffer("*3\r\n"), limits: limits)?.code == .invalidMultibulkLength)
    }

    @Test func unauthenticatedClientsAreHeldToRedisLimits() throws {
        var parser = RESPCommandParser()
        parser.clientIsUnauthenticated = true
        let tenArguments = "*10\r\n" + String(repeating: "$1\r\na\r\n", count: 10)
        var input = buffer(tenArguments + "*2\r\n$4\r\nECHO\r\n$16384\r\n" + String(repeating: "x", count: 16384) + "\r\n")
        #expect(try parser.next(from: &input)?.count == 10)
        #expect(try parser.next(from: &input)?.last?.readableBytes == 16384)
        func error(_ input: String) -> RESPParsingError? {
            var bytes = buffer(input)
            do { _ = try parser.next(from: &bytes) } catch { return error }
            return nil
        }
        #expect(error("*11\r\n")?.message == "Protocol error: unauthenticated multibulk length")
        #expect(error("*11\r\n")?.code == .unauthenticatedMultibulkLength)
        // The length is refused as soon as its header is in, before any of the value arrives.
        #expect(error("*2\r\n$4\r\nECHO\r\n$16385\r\n")?.message == "Protocol error: unauthenticated bulk length")
        #expect(error("*2\r\n$4\r\nECHO\r\n$16385\r\n")?.code == .unauthenticatedBulkLength)
        // Invalid lengths keep their own error, as in Redis.
        #expect(error("*1\r\n$-2\r\n")?.code == .invalidBulkLength)
        #expect(error("*2147483648\r\n")?.code == .invalidMultibulkLength)
        parser.clientIsUnauthenticated = false
        var authenticated = buffer("*11\r\n" + String(repeating: "$5\r\nabcde\r\n", count: 11))
        #expect(try parser.next(from: &authenticated)?.count == 11)
    }

    @Test(arguments: ["*2147483647\r\n", "*1\r\n$9999999999999\r\n", "*1\r\n$2147483648\r\n"])
    func absurdLengthsFailPromptlyWithoutAllocating(input: String) {
        var bytes = buffer(input)
        let capacity = bytes.capacity
        var parser = RESPCommandParser()
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: RESPParsingError.self) {
                _ = try parser.next(from: &bytes)
            }
        }
        #expect(elapsed < .milliseconds(100))
        #expect(bytes.capacity == capacity)
    }

    @Test func plausibleCountsWaitWithoutAllocating() throws {
        var bytes = buffer("*1048576\r\n$536870912\r\nab")
        let capacity = bytes.capacity
        var parser = RESPCommandParser()
        #expect(try parser.next(from: &bytes) == nil)
        #expect(bytes.capacity == capacity)
        #expect(bytes.readableBytes == 24)
    }

    static let requests: [String] = [
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
        "PING\r\n",
        "*2\r\n$3\r\nGET\r\n$7\r\n\r\n\u{0}\r\n\r\n\r\n",
        "SET k \"a b\"\n",
        "*1\r\n$0\r\n\r\n",
    ]

    @Test(arguments: requests)
    func everyStrictPrefixOfARequestIsIncompleteAndConsumesNothing(request: String) throws {
        let bytes = Array(request.utf8)
        var incremental = RESPCommandParser()
        for length in 0..<bytes.count {
            var fresh = RESPCommandParser()
            var prefix = ByteBuffer(bytes: bytes[0..<length])
            #expect(try fresh.next(from: &prefix) == nil, "prefix \(length) of \(request.debugDescription)")
            #expect(prefix.readableBytes == length)
            var growing = ByteBuffer(bytes: bytes[0..<length])
            #expect(try incremental.next(from: &growing) == nil)
            #expect(growing.readableBytes == length)
        }
        var whole = ByteBuffer(bytes: bytes)
        #expect(
            try incremental.next(from: &whole) == (try commands(buffer(request))).first.map { $0.map { buffer($0) } })
        #expect(whole.readableBytes == 0)
    }

    @Test func pipelineFedOneByteAtATime() throws {
        let pipeline = Self.requests.joined()
        let expected = try commands(buffer(pipeline))
        #expect(expected.count == Self.requests.count)
        var parser = RESPCommandParser()
        var input = ByteBuffer()
        var result: [[String]] = []
        for byte in pipeline.utf8 {
            input.writeInteger(byte, as: UInt8.self)
            while let arguments = try parser.next(from: &input) {
                result.append(arguments.map { String(buffer: $0) })
            }
        }
        #expect(result == expected)
        #expect(input.readableBytes == 0)
    }

    @Test func largeArgumentArrivingInSmallReadsIsNotRescanned() throws {
        let length = 32 * 1024 * 1024
        let chunk = [UInt8](repeating: UInt8(ascii: "v"), count: 64 * 1024)
        var input = buffer("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(length)\r\n")
        var parser = RESPCommandParser()
        let clock = ContinuousClock()
        var result: [ByteBuffer]?
        let elapsed = try clock.measure {
            for _ in 0..<(length / chunk.count) {
                #expect(try parser.next(from: &input) == nil)
                input.writeBytes(chunk)
            }
            input.writeString("\r\n")
            result = try parser.next(from: &input)
        }
        #expect(result?.count == 3)
        #expect(result?.last?.readableBytes == length)
        #expect(elapsed < .seconds(2))
    }

    @Test func parserIsReusableAfterAnError() throws {
        var parser = RESPCommandParser()
        var bad = buffer("*2\r\n$3\r\nGET\r\nxx\r\n")
        #expect(throws: RESPParsingError.self) {
            _ = try parser.next(from: &bad)
        }
        var good = buffer("PING\r\n")
        #expect(try parser.next(from: &good) == [buffer("PING")])
    }

    @Test func switchingToAShorterBufferRestartsTheScan() throws {
        var parser = RESPCommandParser()
        var partial = buffer("*2\r\n$3\r\nGET\r\n")
        #expect(try parser.next(from: &partial) == nil)
        var other = buffer("PING\r\n")
        #expect(try parser.next(from: &other) == [buffer("PING")])
    }
}
