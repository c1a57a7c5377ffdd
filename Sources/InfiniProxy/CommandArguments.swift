import NIOCore

extension ByteBuffer {
    /// The argument as lowercase text, for matching option and subcommand names.
    var optionName: String { String(buffer: self).lowercased() }

    /// The argument as Redis's `string2ll` reads an integer: an optional `-`, then digits with no
    /// leading zero, no sign `+` and no spaces; nil if it is not one or does not fit 64 bits.
    var redisInteger: Int64? {
        let bytes = readableBytesView
        guard let first = bytes.first else { return nil }
        if bytes.count == 1, first == UInt8(ascii: "0") { return 0 }
        let negative = first == UInt8(ascii: "-")
        let digits = negative ? bytes.dropFirst() : bytes[...]
        guard let leading = digits.first, leading >= UInt8(ascii: "1"), leading <= UInt8(ascii: "9") else { return nil }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (shifted, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            magnitude = sum
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return Int64(exactly: magnitude)
    }

    /// ``redisInteger``, or Redis's error for an argument that must be an integer.
    func integerArgument() throws(CommandError) -> Int64 {
        guard let value = redisInteger else { throw .notAnInteger }
        return value
    }
}

/// An error reply, already in Redis's words (prefix included).
struct CommandError: Error {
    let message: String
    init(_ message: String) { self.message = message }

    static let syntax = CommandError("ERR syntax error")
    static let notAnInteger = CommandError("ERR value is not an integer or out of range")

    static func wrongArgumentCount(_ command: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(command)' command")
    }

    static func invalidExpireTime(_ command: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(command)' command")
    }
}
