/// Byte values and low-level scanning shared by the parsers and the encoder.
enum RESPByte {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let minus = UInt8(ascii: "-")
    static let zero = UInt8(ascii: "0")
    static let one = UInt8(ascii: "1")
    static let nine = UInt8(ascii: "9")
    static let colon = UInt8(ascii: ":")
    static let questionMark = UInt8(ascii: "?")

    static let simpleString = UInt8(ascii: "+")
    static let simpleError = UInt8(ascii: "-")
    static let integer = UInt8(ascii: ":")
    static let bulkString = UInt8(ascii: "$")
    static let array = UInt8(ascii: "*")
    static let null = UInt8(ascii: "_")
    static let boolean = UInt8(ascii: "#")
    static let double = UInt8(ascii: ",")
    static let bigNumber = UInt8(ascii: "(")
    static let bulkError = UInt8(ascii: "!")
    static let verbatimString = UInt8(ascii: "=")
    static let map = UInt8(ascii: "%")
    static let set = UInt8(ascii: "~")
    static let attribute = UInt8(ascii: "|")
    static let push = UInt8(ascii: ">")

    /// Parses `bytes[range]` like Redis's `string2ll` (util.c), which Redis uses for every
    /// length in a request: an optional `-`, then digits without leading zeros (so no `+`,
    /// no `-0`, no `007`, no empty string) and no overflow.
    static func parseStrictInteger(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        let end = range.upperBound
        guard index < end else {
            return nil
        }
        if end - index == 1 && bytes[index] == zero {
            return 0
        }
        let negative = bytes[index] == minus
        if negative {
            index += 1
        }
        guard index < end, bytes[index] >= one, bytes[index] <= nine else {
            return nil
        }
        var magnitude: UInt64 = 0
        while index < end {
            let digit = bytes[index] &- zero
            guard digit < 10 else {
                return nil
            }
            let (shifted, overflowed) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carried) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflowed, !carried else {
                return nil
            }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= Int64.min.magnitude else {
                return nil
            }
            return Int64(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else {
            return nil
        }
        return Int64(magnitude)
    }

    /// The first index in `start..<end` holding `byte`, or nil.
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == byte {
                return index
            }
            index += 1
        }
        return nil
    }
}
