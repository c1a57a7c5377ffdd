/// A Redis glob pattern (`KEYS`, `SCAN MATCH`, `CONFIG GET`), matched byte by byte as Redis's
/// `stringmatchlen` does: `*` any run, `?` any byte, `[abc]` `[^abc]` `[a-z]` sets (a reversed
/// range is swapped, an unterminated set ends with the pattern), and `\x` for a literal `x`.
///
/// Unlike Redis's recursive matcher, matching backtracks only to the last `*`, so it takes
/// at most pattern length × subject length steps however many stars the client sends.
struct GlobPattern: Sendable {
    private enum Token: Sendable {
        case byte(UInt8)
        case anyByte
        case anyRun
        case set(negated: Bool, ranges: [ClosedRange<UInt8>])
    }

    private let tokens: [Token]
    /// Whether the pattern is `*` alone, which Redis treats as "everything" without matching.
    let matchesEverything: Bool

    init(_ pattern: some Collection<UInt8>) {
        let bytes = Array(pattern)
        var tokens = [Token]()
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "*"):
                if case .anyRun = tokens.last {} else { tokens.append(.anyRun) }
                index += 1
            case UInt8(ascii: "?"):
                tokens.append(.anyByte)
                index += 1
            case UInt8(ascii: "["):
                index += 1
                let negated = index < bytes.count && bytes[index] == UInt8(ascii: "^")
                if negated { index += 1 }
                var ranges = [ClosedRange<UInt8>]()
                while index < bytes.count, bytes[index] != UInt8(ascii: "]") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        ranges.append(bytes[index + 1]...bytes[index + 1])
                        index += 2
                    } else if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "-") {
                        // Redis takes `x-y` as a range whenever three bytes remain, even if `y` is `]`.
                        let (low, high) = (bytes[index], bytes[index + 2])
                        ranges.append(min(low, high)...max(low, high))
                        index += 3
                    } else {
                        ranges.append(bytes[index]...bytes[index])
                        index += 1
                    }
                }
                index += 1
                tokens.append(.set(negated: negated, ranges: ranges))
            case UInt8(ascii: "\\") where index + 1 < bytes.count:
                tokens.append(.byte(bytes[index + 1]))
                index += 2
            case let byte:
                tokens.append(.byte(byte))
                index += 1
            }
        }
        self.tokens = tokens
        self.matchesEverything = bytes == [UInt8(ascii: "*")]
    }

    func matches(_ subject: some Collection<UInt8>) -> Bool {
        let subject = Array(subject)
        var token = 0
        var position = 0
        // Where to resume after a mismatch: the token after the last `*` and the subject
        // position that `*` will extend to next.
        var resume: (token: Int, position: Int)?
        while position < subject.count {
            if token < tokens.count {
                switch tokens[token] {
                case .anyRun:
                    resume = (token + 1, position)
                    token += 1
                    continue
                case .anyByte:
                    token += 1
                    position += 1
                    continue
                case .byte(let byte) where byte == subject[position]:
                    token += 1
                    position += 1
                    continue
                case .set(let negated, let ranges) where ranges.contains { $0.contains(subject[position]) } != negated:
                    token += 1
                    position += 1
                    continue
                default:
                    break
                }
            }
            guard let last = resume else { return false }
            resume = (last.token, last.position + 1)
            token = last.token
            position = last.position + 1
        }
        while token < tokens.count, case .anyRun = tokens[token] { token += 1 }
        return token == tokens.count
    }
}
