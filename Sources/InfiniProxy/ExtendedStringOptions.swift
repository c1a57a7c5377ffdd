import NIOCore

/// The options of SET (`NX XX GET EX PX EXAT PXAT KEEPTTL`) and GETEX (`EX PX EXAT PXAT
/// PERSIST`), parsed as Redis's `parseExtendedStringArgumentsOrReply` does: conflicting options
/// are a syntax error, a repeated one is allowed and the last value wins, and the expire value
/// is checked only once the whole command has parsed.
struct ExtendedStringOptions {
    enum CommandKind {
        case set
        case getex

        var name: String {
            switch self {
            case .set: "set"
            case .getex: "getex"
            }
        }
    }

    private enum ExpireOption: Equatable {
        case seconds, milliseconds, unixSeconds, unixMilliseconds
    }

    var condition = ObjectStore.WriteCondition.always
    var returnsPrevious = false
    /// What the command does to the TTL; SET clears it unless told otherwise, GETEX keeps it.
    var expiry: ObjectStore.ExpiryUpdate

    /// - Parameters:
    ///   - options: The arguments after the key (SET: after the value).
    ///   - now: The current Unix time in milliseconds, for relative expire times.
    init(_ options: ArraySlice<ByteBuffer>, for command: CommandKind, now: Int64) throws(CommandError) {
        var keepTTL = false
        var persist = false
        var expireOption: (kind: ExpireOption, value: ByteBuffer)?
        var index = options.startIndex
        while index < options.endIndex {
            let option = options[index].optionName
            let expireKind: ExpireOption? =
                switch option {
                case "ex": .seconds
                case "px": .milliseconds
                case "exat": .unixSeconds
                case "pxat": .unixMilliseconds
                default: nil
                }
            if let expireKind {
                guard !keepTTL, !persist, index + 1 < options.endIndex,
                    expireOption.map({ $0.kind == expireKind }) ?? true
                else { throw .syntax }
                expireOption = (expireKind, options[index + 1])
                index += 2
                continue
            }
            switch (option, command) {
            case ("nx", .set) where condition != .ifPresent:
                condition = .ifAbsent
            case ("xx", .set) where condition != .ifAbsent:
                condition = .ifPresent
            case ("get", .set):
                returnsPrevious = true
            case ("keepttl", .set) where !persist && expireOption == nil:
                keepTTL = true
            case ("persist", .getex) where !keepTTL && expireOption == nil:
                persist = true
            default:
                throw .syntax
            }
            index += 1
        }
        switch (expireOption, command) {
        case (let (kind, value)?, _):
            expiry = .at(try Self.deadline(kind, value, now: now, command: command.name))
        case (nil, .set):
            expiry = keepTTL ? .keep : .clear
        case (nil, .getex):
            expiry = persist ? .clear : .keep
        }
    }

    /// The absolute deadline in Unix milliseconds, checked as Redis's
    /// `getExpireMillisecondsOrReply` does: positive, and no overflow in conversion or addition.
    private static func deadline(
        _ kind: ExpireOption,
        _ value: ByteBuffer,
        now: Int64,
        command: String
    ) throws(CommandError) -> Int64 {
        let number = try value.integerArgument()
        let inSeconds = kind == .seconds || kind == .unixSeconds
        guard number > 0, !inSeconds || number <= Int64.max / 1000 else { throw .invalidExpireTime(command) }
        let milliseconds = inSeconds ? number * 1000 : number
        guard kind == .seconds || kind == .milliseconds else { return milliseconds }
        let (sum, overflow) = milliseconds.addingReportingOverflow(now)
        guard !overflow else { throw .invalidExpireTime(command) }
        return sum
    }
}
