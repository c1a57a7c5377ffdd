/// One argument of an inline command, split by the rules of Redis's `sdssplitargs` (sds.c).
enum RESPInlineArgument {
    /// Unquoted bytes, which can be sliced from the buffer without copying.
    case range(Range<Int>)
    /// Bytes rebuilt from quotes and escapes.
    case bytes([UInt8])

    private static let backslash = UInt8(ascii: "\\")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let singleQuote = UInt8(ascii: "'")

    /// Splits `bytes[line]` into arguments.
    ///
    /// Arguments are separated by C `isspace` bytes. A token may contain one quoted section:
    /// `"..."` understands `\n \r \t \b \a \xHH` and takes any other escaped byte literally;
    /// `'...'` understands only `\'`. A closing quote must be followed by a space or the end of
    /// the line. Unlike C, a NUL byte is an ordinary byte rather than the end of the line.
    static func split(
        _ bytes: UnsafeRawBufferPointer,
        _ line: Range<Int>
    ) throws(RESPParsingError) -> [RESPInlineArgument] {
        let end = line.upperBound
        // The byte at `index`, or nil past the line (where C would see the terminating NUL).
        func byte(at index: Int) -> UInt8? {
            index < end ? bytes[index] : nil
        }
        // A closing quote must be followed by a space or the end of the line.
        func closeQuote(after index: Int) throws(RESPParsingError) {
            if let next = byte(at: index + 1), !isSpace(next) {
                throw .unbalancedQuotes
            }
        }
        var arguments: [RESPInlineArgument] = []
        var index = line.lowerBound
        while true {
            while index < end && isSpace(bytes[index]) {
                index += 1
            }
            guard index < end else {
                return arguments
            }
            let tokenStart = index
            // Stays nil while the token is plain, so it can be sliced rather than copied.
            var rebuilt: [UInt8]?
            var quote: UInt8?
            while true {
                guard let current = byte(at: index) else {
                    guard quote == nil else {
                        throw .unbalancedQuotes
                    }
                    break
                }
                if quote == doubleQuote {
                    if current == backslash, byte(at: index + 1) == UInt8(ascii: "x"),
                        let high = hexValue(byte(at: index + 2)), let low = hexValue(byte(at: index + 3))
                    {
                        rebuilt?.append(high << 4 | low)
                        index += 4
                    } else if current == backslash, let escaped = byte(at: index + 1) {
                        rebuilt?.append(unescape(escaped))
                        index += 2
                    } else if current == doubleQuote {
                        try closeQuote(after: index)
                        index += 1
                        break
                    } else {
                        rebuilt?.append(current)
                        index += 1
                    }
                } else if quote == singleQuote {
                    if current == backslash, byte(at: index + 1) == singleQuote {
                        rebuilt?.append(singleQuote)
                        index += 2
                    } else if current == singleQuote {
                        try closeQuote(after: index)
                        index += 1
                        break
                    } else {
                        rebuilt?.append(current)
                        index += 1
                    }
                } else if isTokenEnd(current) {
                    break
                } else if current == doubleQuote || current == singleQuote {
                    quote = current
                    rebuilt = Array(UnsafeRawBufferPointer(rebasing: bytes[tokenStart..<index]))
                    index += 1
                } else {
                    index += 1
                }
            }
            arguments.append(rebuilt.map { .bytes($0) } ?? .range(tokenStart..<index))
        }
    }

    /// C's `isspace` in the C locale.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == RESPByte.space || (byte >= 0x09 && byte <= 0x0D)
    }

    /// The bytes `sdssplitargs` ends an unquoted token at; `\v` and `\f` are not among them.
    private static func isTokenEnd(_ byte: UInt8) -> Bool {
        byte == RESPByte.space || byte == RESPByte.lf || byte == RESPByte.cr || byte == UInt8(ascii: "\t")
    }

    private static func hexValue(_ byte: UInt8?) -> UInt8? {
        switch byte {
        case .some(let digit) where digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9"):
            return digit - UInt8(ascii: "0")
        case .some(let letter) where letter | 0x20 >= UInt8(ascii: "a") && letter | 0x20 <= UInt8(ascii: "f"):
            return (letter | 0x20) - UInt8(ascii: "a") + 10
        default:
            return nil
        }
    }

    private static func unescape(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"):
            return RESPByte.lf
        case UInt8(ascii: "r"):
            return RESPByte.cr
        case UInt8(ascii: "t"):
            return UInt8(ascii: "\t")
        case UInt8(ascii: "b"):
            return 0x08
        case UInt8(ascii: "a"):
            return 0x07
        default:
            return byte
        }
    }
}
