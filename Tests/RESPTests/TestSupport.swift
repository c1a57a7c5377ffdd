import NIOCore
import RESP
import Testing

/// A small deterministic generator (SplitMix64) so fuzz failures reproduce from their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func buffer(_ string: String) -> ByteBuffer {
    ByteBuffer(string: string)
}

func encoded(_ value: RESPValue, _ version: RESPProtocolVersion) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeRESPValue(value, protocol: version)
    return buffer
}

func written(_ body: (inout ByteBuffer) -> Void) -> String {
    var buffer = ByteBuffer()
    body(&buffer)
    return String(buffer: buffer)
}

/// Every value in `input`, parsed with a fresh parser; the buffer must be fully consumed.
func parseAll(_ input: ByteBuffer, limits: RESPParser.Limits = .init()) throws -> [RESPValue] {
    var parser = RESPParser(limits: limits)
    var input = input
    var values: [RESPValue] = []
    while let value = try parser.next(from: &input) {
        values.append(value)
    }
    #expect(input.readableBytes == 0, "unconsumed bytes: \(String(buffer: input).debugDescription)")
    return values
}

/// Every command in `input`, parsed with a fresh parser, as strings.
func commands(_ input: ByteBuffer, limits: RESPParser.Limits = .init()) throws -> [[String]] {
    var parser = RESPCommandParser(limits: limits)
    var input = input
    var result: [[String]] = []
    while let arguments = try parser.next(from: &input) {
        result.append(arguments.map { String(buffer: $0) })
    }
    #expect(input.readableBytes == 0, "unconsumed bytes: \(String(buffer: input).debugDescription)")
    return result
}

/// The error thrown by parsing `input` as values.
func valueParseError(_ input: ByteBuffer, limits: RESPParser.Limits = .init()) -> RESPParsingError? {
    var parser = RESPParser(limits: limits)
    var input = input
    do {
        while try parser.next(from: &input) != nil {}
        return nil
    } catch {
        return error
    }
}

/// The error thrown by parsing `input` as commands.
func commandParseError(_ input: ByteBuffer, limits: RESPParser.Limits = .init()) -> RESPParsingError? {
    var parser = RESPCommandParser(limits: limits)
    var input = input
    do {
        while try parser.next(from: &input) != nil {}
        return nil
    } catch {
        return error
    }
}

/// The address of the first readable byte, to check that slices share storage.
func baseAddress(_ buffer: ByteBuffer) -> UInt? {
    buffer.withUnsafeReadableBytes { bytes in bytes.baseAddress.map { UInt(bitPattern: $0) } }
}

/// Random values; doubles are never NaN so that generated values equal themselves.
struct ValueGenerator {
    var rng: SeededGenerator
    /// Whether to produce RESP3-only kinds.
    var resp3: Bool

    mutating func value(depth: Int = 0) -> RESPValue {
        let leafKinds = self.resp3 ? 12 : 5
        let aggregateKinds = self.resp3 ? 4 : 1
        let allowAggregate = depth < 4
        let kind = Int.random(in: 0..<(leafKinds + (allowAggregate ? aggregateKinds : 0)), using: &self.rng)
        guard kind < leafKinds else {
            return self.aggregate(kind - leafKinds, depth: depth)
        }
        switch kind {
        case 0:
            return .simpleString(self.lineBytes())
        case 1:
            return .simpleError(self.lineBytes())
        case 2:
            return .integer(self.integer())
        case 3:
            return .bulkString(self.binaryBytes())
        case 4:
            return .null
        case 5:
            return .double(self.double())
        case 6:
            return .boolean(Bool.random(using: &self.rng))
        case 7:
            var digits = Bool.random(using: &self.rng) ? "-" : ""
            digits += String(UInt.random(in: 1...9, using: &self.rng))
            for _ in 0..<Int.random(in: 0..<40, using: &self.rng) {
                digits += String(UInt.random(in: 0...9, using: &self.rng))
            }
            return .bigNumber(ByteBuffer(string: digits))
        case 8:
            return .bulkError(self.binaryBytes())
        case 9:
            var payload = ByteBuffer(string: Bool.random(using: &self.rng) ? "txt:" : "mkd:")
            payload.writeImmutableBuffer(self.binaryBytes())
            return .verbatimString(payload)
        case 10:
            return .integer(Bool.random(using: &self.rng) ? .max : .min)
        default:
            return .double(
                [Double.infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
                    .randomElement(using: &self.rng)!)
        }
    }

    private mutating func aggregate(_ kind: Int, depth: Int) -> RESPValue {
        let count = Int.random(in: 0..<5, using: &self.rng)
        if kind == 1 {
            return .map(
                (0..<count).map { _ in
                    RESPKeyValuePair(key: self.value(depth: depth + 1), value: self.value(depth: depth + 1))
                })
        }
        let elements = (0..<count).map { _ in self.value(depth: depth + 1) }
        switch kind {
        case 0:
            return .array(elements)
        case 2:
            return .set(elements)
        default:
            return .push(elements)
        }
    }

    mutating func integer() -> Int64 {
        switch Int.random(in: 0..<3, using: &self.rng) {
        case 0:
            return Int64.random(in: -10...10, using: &self.rng)
        case 1:
            return Int64.random(in: -1_000_000...1_000_000, using: &self.rng)
        default:
            return Int64.random(in: .min ... .max, using: &self.rng)
        }
    }

    mutating func double() -> Double {
        switch Int.random(in: 0..<3, using: &self.rng) {
        case 0:
            return Double(Int.random(in: -1000...1000, using: &self.rng))
        case 1:
            return Double.random(in: -1e6...1e6, using: &self.rng)
        default:
            return Double(
                sign: Bool.random(using: &self.rng) ? .minus : .plus,
                exponent: Int.random(in: -1000...1000, using: &self.rng),
                significand: Double.random(in: 1..<2, using: &self.rng)
            )
        }
    }

    /// Bytes allowed in a simple string or error: anything but CR and LF.
    mutating func lineBytes() -> ByteBuffer {
        let count = Int.random(in: 0..<20, using: &self.rng)
        return ByteBuffer(
            bytes: (0..<count).map { _ in
                var byte = UInt8.random(in: 0 ... .max, using: &self.rng)
                while byte == 13 || byte == 10 {
                    byte = UInt8.random(in: 0 ... .max, using: &self.rng)
                }
                return byte
            })
    }

    /// Arbitrary bytes, often including CR, LF and NUL.
    mutating func binaryBytes() -> ByteBuffer {
        let count = Int.random(in: 0..<40, using: &self.rng)
        let alphabet: [UInt8] = [0, 13, 10, 36, 42, 65, 97, 255]
        return ByteBuffer(
            bytes: (0..<count).map { _ in
                Bool.random(using: &self.rng)
                    ? alphabet.randomElement(using: &self.rng)!
                    : UInt8.random(in: 0 ... .max, using: &self.rng)
            })
    }
}
