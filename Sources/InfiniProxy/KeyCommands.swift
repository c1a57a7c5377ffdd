import NIOCore
import RESP

/// DEL UNLINK EXISTS TYPE, the EXPIRE and TTL families, PERSIST, KEYS, SCAN, DBSIZE, FLUSHDB,
/// FLUSHALL: commands on keys whatever their value.
extension Command {
    static let keyCommands: [String: Command] = [
        "del": Command(
            arity: -2, group: "generic", summary: "Deletes one or more keys.", flags: ["write"], keys: .all,
            run: deleteKeys
        ),
        // Chunks are freed in the background either way, so UNLINK is DEL.
        "unlink": Command(
            arity: -2, group: "generic", summary: "Asynchronously deletes one or more keys.", flags: ["write", "fast"], keys: .all,
            run: deleteKeys
        ),
        "exists": Command(
            arity: -2, group: "generic", summary: "Determines whether one or more keys exist.", flags: ["readonly", "fast"], keys: .all
        ) { session, arguments, replies in
            var count = 0
            for key in arguments where await session.store.contains(key) { count += 1 }
            replies.writeRESPInteger(count)
            return .keepOpen
        },
        "type": Command(
            arity: 2, group: "generic", summary: "Determines the type of value stored at a key.", flags: ["readonly", "fast"], keys: .first
        ) { session, arguments, replies in
            replies.writeSimpleString(await session.store.contains(arguments[0]) ? "string" : "none")
            return .keepOpen
        },
        "expire": expireCommand("expire", relative: true, unit: 1000, summary: "Sets the expiration time of a key in seconds."),
        "pexpire": expireCommand("pexpire", relative: true, unit: 1, summary: "Sets the expiration time of a key in milliseconds."),
        "expireat": expireCommand(
            "expireat", relative: false, unit: 1000, summary: "Sets the expiration time of a key to a Unix timestamp."),
        "pexpireat": expireCommand(
            "pexpireat", relative: false, unit: 1, summary: "Sets the expiration time of a key to a Unix milliseconds timestamp."),
        "ttl": ttlCommand(absolute: false, unit: 1000, summary: "Returns the expiration time in seconds of a key."),
        "pttl": ttlCommand(absolute: false, unit: 1, summary: "Returns the expiration time in milliseconds of a key."),
        "expiretime": ttlCommand(absolute: true, unit: 1000, summary: "Returns the expiration time of a key as a Unix timestamp."),
        "pexpiretime": ttlCommand(
            absolute: true, unit: 1, summary: "Returns the expiration time of a key as a Unix milliseconds timestamp."),
        "persist": Command(
            arity: 2, group: "generic", summary: "Removes the expiration time of a key.", flags: ["write", "fast"], keys: .first
        ) { session, arguments, replies in
            replies.writeRESPInteger(try await session.store.updateExpiry(of: arguments[0], to: .clear) ? 1 : 0)
            return .keepOpen
        },
        "keys": Command(
            arity: 2, group: "generic", summary: "Returns all key names that match a pattern.", flags: ["readonly"]
        ) { session, arguments, replies in
            let pattern = GlobPattern(arguments[0].readableBytesView)
            let keys = await session.store.keys().filter {
                pattern.matchesEverything || pattern.matches($0.readableBytesView)
            }
            replies.writeArrayHeader(keys.count)
            for key in keys { replies.writeBulkString(key) }
            return .keepOpen
        },
        "scan": Command(
            arity: -2, group: "generic", summary: "Iterates over the key names in the database.", flags: ["readonly"]
        ) { session, arguments, replies in
            let request = try ScanRequest(arguments)
            let page = await session.store.scan(from: request.cursor, count: request.count)
            let keys = page.keys.filter(request.includes)
            replies.writeArrayHeader(2)
            replies.writeBulkString(String(page.next))
            replies.writeArrayHeader(keys.count)
            for key in keys { replies.writeBulkString(key) }
            return .keepOpen
        },
        "dbsize": Command(arity: 1, group: "server", summary: "Returns the number of keys in the database.", flags: ["readonly", "fast"]) {
            session, _, replies in
            replies.writeRESPInteger(await session.store.count)
            return .keepOpen
        },
        "flushdb": Command(arity: -1, group: "server", summary: "Removes all keys from the current database.", flags: ["write"]) {
            session, arguments, replies in
            try await flush(session, arguments, &replies)
        },
        "flushall": Command(arity: -1, group: "server", summary: "Removes all keys from all databases.", flags: ["write"]) {
            session, arguments, replies in
            try await flush(session, arguments, &replies)
        },
    ]

    /// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT], checked in Redis's
    /// order: options, then the number, then overflow of the deadline.
    ///
    /// - Parameters:
    ///   - relative: Whether the time counts from now rather than from the Unix epoch.
    ///   - unit: Milliseconds per unit of the argument.
    private static func expireCommand(_ name: String, relative: Bool, unit: Int64, summary: String) -> Command {
        Command(arity: -3, group: "generic", summary: summary, flags: ["write", "fast"], keys: .first) {
            session, arguments, replies in
            var condition = ObjectStore.ExpireCondition()
            for option in arguments.dropFirst(2) {
                switch option.optionName {
                case "nx": condition.insert(.ifNoTTL)
                case "xx": condition.insert(.ifTTL)
                case "gt": condition.insert(.ifGreater)
                case "lt": condition.insert(.ifLess)
                default: throw CommandError("ERR Unsupported option \(String(buffer: option))")
                }
            }
            if condition.contains(.ifNoTTL), !condition.isDisjoint(with: [.ifTTL, .ifGreater, .ifLess]) {
                throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
            }
            if condition.isSuperset(of: [.ifGreater, .ifLess]) {
                throw CommandError("ERR GT and LT options at the same time are not compatible")
            }
            let time = try arguments[1].integerArgument()
            let (scaled, overflow) = time.multipliedReportingOverflow(by: unit)
            let base = relative ? session.store.now() : 0
            let (deadline, carry) = scaled.addingReportingOverflow(base)
            guard !overflow, !carry else { throw CommandError.invalidExpireTime(name) }
            let updated = try await session.store.updateExpiry(of: arguments[0], to: .at(deadline), condition: condition)
            replies.writeRESPInteger(updated ? 1 : 0)
            return .keepOpen
        }
    }

    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME key: -2 for a missing key, -1 without a TTL, else the
    /// time left (or the deadline), rounded to the nearest second in seconds as Redis does.
    private static func ttlCommand(absolute: Bool, unit: Int64, summary: String) -> Command {
        Command(arity: 2, group: "generic", summary: summary, flags: ["readonly", "fast"], keys: .first) {
            session, arguments, replies in
            switch await session.store.timeToLive(of: arguments[0]) {
            case .missing:
                replies.writeRESPInteger(-2)
            case .persistent:
                replies.writeRESPInteger(-1)
            case .expiresAt(let deadline):
                let milliseconds = max(0, absolute ? deadline : deadline - session.store.now())
                replies.writeRESPInteger(unit == 1 ? milliseconds : (milliseconds + 500) / 1000)
            }
            return .keepOpen
        }
    }

    /// FLUSHDB and FLUSHALL [ASYNC | SYNC]: either way the chunks are freed in the background.
    private static func flush(
        _ session: ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ReplyBuffer
    ) async throws -> ClientSession.Outcome {
        guard arguments.count <= 1, arguments.allSatisfy({ ["async", "sync"].contains($0.optionName) }) else {
            throw CommandError.syntax
        }
        try await session.store.removeAll()
        replies.writeSimpleString("OK")
        return .keepOpen
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], parsed as Redis's `scanGenericCommand`.
struct ScanRequest {
    var cursor: UInt64
    var count = 10
    var pattern: GlobPattern?
    /// False when TYPE names a type other than `string`: there are only strings here.
    var typeMatches = true

    init(_ arguments: [ByteBuffer]) throws(CommandError) {
        guard let cursor = Self.cursor(arguments[0]) else { throw CommandError("ERR invalid cursor") }
        self.cursor = cursor
        var index = 1
        while index < arguments.count {
            guard index + 1 < arguments.count else { throw .syntax }
            let value = arguments[index + 1]
            switch arguments[index].optionName {
            case "count":
                let count = try value.integerArgument()
                guard count >= 1 else { throw .syntax }
                self.count = Int(clamping: count)
            case "match":
                pattern = GlobPattern(value.readableBytesView)
            case "type":
                typeMatches = value.optionName == "string"
            default:
                throw .syntax
            }
            index += 2
        }
    }

    func includes(_ key: ByteBuffer) -> Bool {
        guard typeMatches else { return false }
        guard let pattern, !pattern.matchesEverything else { return true }
        return pattern.matches(key.readableBytesView)
    }

    /// The cursor as `strtoul` reads it: an optional sign, decimal digits, and a negative value
    /// wrapped around, which is what Redis accepts.
    private static func cursor(_ argument: ByteBuffer) -> UInt64? {
        var text = Substring(String(buffer: argument))
        let negative = text.first == "-"
        if text.first == "-" || text.first == "+" { text = text.dropFirst() }
        guard !text.isEmpty, text.allSatisfy(\.isASCII), let magnitude = UInt64(text) else { return nil }
        return negative ? 0 &- magnitude : magnitude
    }
}

extension Command {
    /// DEL and UNLINK: removes the keys and replies with how many existed.
    fileprivate static func deleteKeys(
        _ session: inout ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ReplyBuffer
    ) async throws -> ClientSession.Outcome {
        var count = 0
        for key in arguments where try await session.store.delete(key) { count += 1 }
        replies.writeRESPInteger(count)
        return .keepOpen
    }
}
