import NIOCore
import RESP

/// GET SET SETNX GETDEL GETEX MGET MSET STRLEN GETRANGE APPEND: commands on string values.
extension Command {
    static let stringCommands: [String: Command] = [
        "get": Command(arity: 2, group: "string", summary: "Returns the string value of a key.", flags: ["readonly", "fast"], keys: .first) {
            session, arguments, replies in
            session.writeValue(try await session.store.get(arguments[0], memory: session.clientMemory(beside: replies)), to: &replies)
            return .keepOpen
        },
        "set": Command(
            arity: -3, group: "string",
            summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            flags: ["write", "denyoom"], keys: .first
        ) { session, arguments, replies in
            let options = try ExtendedStringOptions(arguments.dropFirst(2), for: .set, now: session.store.now())
            let key = arguments[0]
            if options.returnsPrevious {
                let (previous, _) = try await session.store.getAndSet(
                    key, value: arguments[1], condition: options.condition, expiry: options.expiry,
                    memory: session.clientMemory(beside: replies))
                session.writeValue(previous, to: &replies)
                return .keepOpen
            }
            let written = try await session.store.set(
                owned(key), value: arguments[1], condition: options.condition, expiry: options.expiry)
            if written {
                replies.writeSimpleString("OK")
            } else {
                replies.writeNull(protocol: session.protocolVersion)
            }
            return .keepOpen
        },
        "setnx": Command(
            arity: 3, group: "string", summary: "Set the string value of a key only when the key doesn't exist.",
            flags: ["write", "denyoom", "fast"], keys: .first
        ) { session, arguments, replies in
            let written = try await session.store.set(owned(arguments[0]), value: arguments[1], condition: .ifAbsent)
            replies.writeRESPInteger(written ? 1 : 0)
            return .keepOpen
        },
        "getdel": Command(
            arity: 2, group: "string", summary: "Returns the string value of a key after deleting the key.",
            flags: ["write", "fast"], keys: .first
        ) { session, arguments, replies in
            session.writeValue(try await session.store.getAndDelete(arguments[0], memory: session.clientMemory(beside: replies)), to: &replies)
            return .keepOpen
        },
        "getex": Command(
            arity: -2, group: "string", summary: "Returns the string value of a key after setting its expiration time.",
            flags: ["write", "fast"], keys: .first
        ) { session, arguments, replies in
            let options = try ExtendedStringOptions(arguments.dropFirst(), for: .getex, now: session.store.now())
            session.writeValue(
                try await session.store.getAndUpdateExpiry(arguments[0], expiry: options.expiry, memory: session.clientMemory(beside: replies)),
                to: &replies)
            return .keepOpen
        },
        "mget": Command(
            arity: -2, group: "string", summary: "Atomically returns the string values of one or more keys.",
            flags: ["readonly", "fast"], keys: .all
        ) { session, arguments, replies in
            let values = try await session.store.getAll(arguments, memory: session.clientMemory(beside: replies))
            replies.writeArrayHeader(values.count)
            for value in values { session.writeValue(value, to: &replies) }
            return .keepOpen
        },
        "mset": Command(
            arity: -3, group: "string", summary: "Atomically creates or modifies the string values of one or more keys.",
            flags: ["write", "denyoom"], keys: .pairs
        ) { session, arguments, replies in
            guard arguments.count % 2 == 0 else { throw CommandError.wrongArgumentCount("mset") }
            let pairs = stride(from: 0, to: arguments.count, by: 2).map { (key: owned(arguments[$0]), value: arguments[$0 + 1]) }
            try await session.store.setAll(pairs)
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "strlen": Command(
            arity: 2, group: "string", summary: "Returns the length of a string value.", flags: ["readonly", "fast"], keys: .first
        ) { session, arguments, replies in
            replies.writeRESPInteger(await session.store.length(of: arguments[0]) ?? 0)
            return .keepOpen
        },
        "getrange": Command(
            arity: 4, group: "string", summary: "Returns a substring of the string stored at a key.", flags: ["readonly"], keys: .first
        ) { session, arguments, replies in
            let start = try arguments[1].integerArgument()
            let end = try arguments[2].integerArgument()
            let key = arguments[0]
            guard let length = await session.store.length(of: key),
                let range = byteRange(start: start, end: end, length: length),
                let value = try await session.store.get(key, range: range, memory: session.clientMemory(beside: replies))
            else {
                replies.writeBulkString("")
                return .keepOpen
            }
            replies.writeBulkString(value)
            return .keepOpen
        },
        "append": Command(
            arity: 3, group: "string", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
            flags: ["write", "denyoom", "fast"], keys: .first
        ) { session, arguments, replies in
            let length = try await session.store.append(
                arguments[1], to: arguments[0], maximumLength: session.server.configuration.maximumBulkLength,
                memory: session.clientMemory(beside: replies))
            guard let length else { throw CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)") }
            replies.writeRESPInteger(length)
            return .keepOpen
        },
    ]

    /// GETRANGE's inclusive `start...end` as a byte range, with Redis's rules: negative indexes
    /// count from the end, both clamp to the value, and an empty result is nil.
    static func byteRange(start: Int64, end: Int64, length: Int) -> Range<Int>? {
        let length = Int64(length)
        guard !(start < 0 && end < 0 && start > end), length > 0 else { return nil }
        let first = max(0, start < 0 ? length + start : start)
        let last = min(length - 1, max(0, end < 0 ? length + end : end))
        guard first <= last else { return nil }
        return Int(first)..<Int(last + 1)
    }

    /// A copy of an argument that does not keep the connection's receive buffer alive.
    static func owned(_ argument: ByteBuffer) -> ByteBuffer {
        ByteBuffer(bytes: argument.readableBytesView)
    }
}
