import NIOCore
import RESP
import Testing

/// Seeded, bounded randomized tests: failures reproduce from the seed in the test name.
@Suite("Fuzz")
struct RESPFuzzTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func randomResp3ValuesRoundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: true)
        var pipeline = ByteBuffer()
        var expected: [RESPValue] = []
        for _ in 0..<500 {
            let value = generator.value()
            #expect(try parseAll(encoded(value, .v3)) == [value], "\(value)")
            pipeline.writeRESPValue(value, protocol: .v3)
            expected.append(value)
        }
        #expect(try parseAll(pipeline) == expected)
    }

    @Test(arguments: [UInt64(4), 5])
    func randomResp2ValuesRoundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: false)
        for _ in 0..<500 {
            let value = generator.value()
            #expect(try parseAll(encoded(value, .v2)) == [value], "\(value)")
        }
    }

    @Test(arguments: [UInt64(6)])
    func randomResp3ValuesDowngrade(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: true)
        for _ in 0..<500 {
            let value = generator.value()
            let parsed = try parseAll(encoded(value, .v2))
            #expect(parsed.count == 1 && RESPRoundTripTests.isDowngrade(parsed[0], of: value), "\(value)")
        }
    }

    @Test(arguments: [UInt64(7), 8])
    func randomCommandsRoundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: false)
        var pipeline = ByteBuffer()
        var expected: [[ByteBuffer]] = []
        for _ in 0..<300 {
            let arguments = (0..<Int.random(in: 1...6, using: &generator.rng)).map { _ in generator.binaryBytes() }
            pipeline.writeArrayHeader(arguments.count)
            for argument in arguments {
                pipeline.writeBulkString(argument)
            }
            expected.append(arguments)
        }
        var parser = RESPCommandParser()
        var parsed: [[ByteBuffer]] = []
        while let arguments = try parser.next(from: &pipeline) {
            parsed.append(arguments)
        }
        #expect(parsed == expected)
        #expect(pipeline.readableBytes == 0)
    }

    /// Random bytes drawn mostly from RESP's own alphabet so they reach deep into the parsers.
    @Test(arguments: [UInt64(9), 10])
    func garbageNeverCrashes(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("+-:$*_#,(!=%~|>?\r\n\r\n0123456789-1txtinf \"'\\x".utf8)
        let limits = RESPParser.Limits(
            maximumBulkLength: 64, maximumAggregateLength: 8, maximumDepth: 4, maximumInlineLength: 32)
        for _ in 0..<1500 {
            let bytes = (0..<Int.random(in: 0..<48, using: &rng)).map { _ in
                Int.random(in: 0..<8, using: &rng) == 0
                    ? UInt8.random(in: 0 ... .max, using: &rng) : alphabet.randomElement(using: &rng)!
            }
            for parserLimits in [limits, RESPParser.Limits()] {
                Self.exerciseValueParser(bytes, parserLimits)
                Self.exerciseCommandParser(bytes, parserLimits)
            }
        }
    }

    @Test(arguments: [UInt64(11), 12])
    func truncatedAndCorruptedFramesNeverCrash(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: true)
        for _ in 0..<300 {
            let value = generator.value()
            let version: RESPProtocolVersion = Bool.random(using: &generator.rng) ? .v3 : .v2
            let bytes = Array(encoded(value, version).readableBytesView)
            // Any strict prefix of a single valid frame is incomplete.
            for _ in 0..<3 {
                let length = Int.random(in: 0..<bytes.count, using: &generator.rng)
                var parser = RESPParser()
                var prefix = ByteBuffer(bytes: bytes[0..<length])
                #expect(try parser.next(from: &prefix) == nil)
                #expect(prefix.readableBytes == length)
            }
            for _ in 0..<3 {
                var corrupted = bytes
                corrupted[Int.random(in: 0..<bytes.count, using: &generator.rng)] = UInt8.random(
                    in: 0 ... .max, using: &generator.rng)
                Self.exerciseValueParser(corrupted, RESPParser.Limits())
                Self.exerciseCommandParser(corrupted, RESPParser.Limits())
            }
        }
    }

    @Test(arguments: [UInt64(13)])
    func corruptedCommandsNeverCrash(seed: UInt64) {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), resp3: false)
        for _ in 0..<500 {
            var request = ByteBuffer()
            let count = Int.random(in: 1...4, using: &generator.rng)
            request.writeArrayHeader(count)
            for _ in 0..<count {
                request.writeBulkString(generator.binaryBytes())
            }
            var bytes = Array(request.readableBytesView)
            if Bool.random(using: &generator.rng) {
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator.rng))
            } else {
                bytes[Int.random(in: 0..<bytes.count, using: &generator.rng)] = UInt8.random(
                    in: 0 ... .max, using: &generator.rng)
            }
            Self.exerciseCommandParser(bytes, RESPParser.Limits())
        }
    }

    /// Parses `bytes` both whole and fed in two pieces, checking the framing invariants.
    static func exerciseValueParser(_ bytes: [UInt8], _ limits: RESPParser.Limits) {
        var parser = RESPParser(limits: limits)
        var input = ByteBuffer(bytes: bytes)
        do {
            while true {
                let before = input.readableBytes
                guard try parser.next(from: &input) != nil else {
                    #expect(input.readableBytes == before)
                    break
                }
                #expect(input.readableBytes < before)
            }
        } catch {
            #expect(!error.message.isEmpty)
        }
    }

    static func exerciseCommandParser(_ bytes: [UInt8], _ limits: RESPParser.Limits) {
        var whole = RESPCommandParser(limits: limits)
        var input = ByteBuffer(bytes: bytes)
        var wholeResult: [[ByteBuffer]] = []
        var wholeError: RESPParsingError?
        do {
            while let arguments = try whole.next(from: &input) {
                #expect(!arguments.isEmpty)
                wholeResult.append(arguments)
            }
        } catch {
            wholeError = error
        }
        // Feeding the same bytes in two reads must frame them identically.
        var split = RESPCommandParser(limits: limits)
        var growing = ByteBuffer(bytes: bytes[0..<(bytes.count / 2)])
        var splitResult: [[ByteBuffer]] = []
        var splitError: RESPParsingError?
        do {
            while let arguments = try split.next(from: &growing) {
                splitResult.append(arguments)
            }
            growing.writeBytes(bytes[(bytes.count / 2)...])
            while let arguments = try split.next(from: &growing) {
                splitResult.append(arguments)
            }
        } catch {
            splitError = error
        }
        #expect(wholeError == splitError)
        if wholeError == nil {
            #expect(splitResult == wholeResult)
        }
    }
}
