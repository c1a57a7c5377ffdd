import NIOCore
import RESP

/// The command table: name, arity (Redis's convention: positive means exact, negative means at
/// least), and what it does.
struct Command: Sendable {
    typealias Handler = @Sendable (inout ClientSession, [ByteBuffer], inout ByteBuffer) async throws -> ClientSession.Outcome

    let arity: Int
    let run: Handler

    func accepts(argumentCount: Int) -> Bool {
        arity >= 0 ? argumentCount == arity : argumentCount >= -arity
    }

    static let table: [String: Command] = [
        "ping": Command(arity: -1) { session, arguments, replies in
            guard arguments.count <= 1 else { throw CommandError("ERR wrong number of arguments for 'ping' command") }
            if let message = arguments.first { replies.writeBulkString(message) } else { replies.writeSimpleString("PONG") }
            return .keepOpen
        },
        "echo": Command(arity: 2) { _, arguments, replies in
            replies.writeBulkString(arguments[0])
            return .keepOpen
        },
        "quit": Command(arity: -1) { _, _, replies in
            replies.writeSimpleString("OK")
            return .close
        },
        "hello": Command(arity: -1) { session, arguments, replies in
            try session.hello(arguments, replies: &replies)
        },
        "select": Command(arity: 2) { _, arguments, replies in
            guard let index = Int(String(buffer: arguments[0])) else {
                throw CommandError("ERR value is not an integer or out of range")
            }
            guard index == 0 else { throw CommandError("ERR DB index is out of range") }
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "client": Command(arity: -2) { session, arguments, replies in
            try session.client(arguments, replies: &replies)
        },
        "command": Command(arity: -1) { session, arguments, replies in
            switch arguments.first.map({ String(buffer: $0).lowercased() }) {
            case "count":
                replies.writeRESPInteger(Command.table.count)
            case "docs":
                replies.writeMapHeader(0, protocol: session.protocolVersion)
            default:
                replies.writeArrayHeader(0)
            }
            return .keepOpen
        },
        "get": Command(arity: 2) { session, arguments, replies in
            if let value = try await session.store.get(arguments[0]) {
                replies.writeBulkString(value)
            } else {
                replies.writeNull(protocol: session.protocolVersion)
            }
            return .keepOpen
        },
        "set": Command(arity: -3) { session, arguments, replies in
            try await set(&session, arguments, &replies)
        },
        "mget": Command(arity: -2) { session, arguments, replies in
            replies.writeArrayHeader(arguments.count)
            for key in arguments {
                if let value = try await session.store.get(key) {
                    replies.writeBulkString(value)
                } else {
                    replies.writeNull(protocol: session.protocolVersion)
                }
            }
            return .keepOpen
        },
        "mset": Command(arity: -3) { session, arguments, replies in
            guard arguments.count % 2 == 0 else { throw CommandError("ERR wrong number of arguments for 'mset' command") }
            for pair in stride(from: 0, to: arguments.count, by: 2) {
                try await session.store.set(owned(arguments[pair]), value: arguments[pair + 1])
            }
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "del": Command(arity: -2) { session, arguments, replies in
            try await delete(&session, arguments, &replies)
        },
        "unlink": Command(arity: -2) { session, arguments, replies in
            try await delete(&session, arguments, &replies)
        },
        "exists": Command(arity: -2) { session, arguments, replies in
            var count = 0
            for key in arguments where await session.store.contains(key) { count += 1 }
            replies.writeRESPInteger(count)
            return .keepOpen
        },
        "strlen": Command(arity: 2) { session, arguments, replies in
            replies.writeRESPInteger(await session.store.length(of: arguments[0]) ?? 0)
            return .keepOpen
        },
        "type": Command(arity: 2) { session, arguments, replies in
            replies.writeSimpleString(await session.store.contains(arguments[0]) ? "string" : "none")
            return .keepOpen
        },
        "dbsize": Command(arity: 1) { session, _, replies in
            replies.writeRESPInteger(await session.store.count)
            return .keepOpen
        },
        "flushdb": Command(arity: -1) { session, _, replies in
            await session.store.removeAll()
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "flushall": Command(arity: -1) { session, _, replies in
            await session.store.removeAll()
            replies.writeSimpleString("OK")
            return .keepOpen
        },
    ]

    /// SET key value [NX | XX] [GET]
    private static func set(
        _ session: inout ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ByteBuffer
    ) async throws -> ClientSession.Outcome {
        var onlyIfAbsent = false
        var onlyIfPresent = false
        var returnPrevious = false
        for option in arguments.dropFirst(2) {
            switch String(buffer: option).lowercased() {
            case "nx" where !onlyIfPresent: onlyIfAbsent = true
            case "xx" where !onlyIfAbsent: onlyIfPresent = true
            case "get": returnPrevious = true
            default: throw CommandError("ERR syntax error")
            }
        }
        let key = arguments[0]
        let previous = returnPrevious ? try await session.store.get(key) : nil
        let exists = await session.store.contains(key)
        let allowed = !(onlyIfAbsent && exists) && !(onlyIfPresent && !exists)
        if allowed { try await session.store.set(owned(key), value: arguments[1]) }
        if returnPrevious {
            if let previous { replies.writeBulkString(previous) } else { replies.writeNull(protocol: session.protocolVersion) }
        } else if allowed {
            replies.writeSimpleString("OK")
        } else {
            replies.writeNull(protocol: session.protocolVersion)
        }
        return .keepOpen
    }

    private static func delete(
        _ session: inout ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ByteBuffer
    ) async throws -> ClientSession.Outcome {
        var count = 0
        for key in arguments where await session.store.delete(key) { count += 1 }
        replies.writeRESPInteger(count)
        return .keepOpen
    }

    /// A copy of an argument that does not keep the connection's receive buffer alive.
    private static func owned(_ argument: ByteBuffer) -> ByteBuffer {
        ByteBuffer(bytes: argument.readableBytesView)
    }
}
