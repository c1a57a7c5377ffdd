import NIOCore
import RESP

/// INFO, CONFIG and COMMAND: what clients and tools ask about the server.
extension Command {
    static let serverCommands: [String: Command] = [
        "info": Command(arity: -1, group: "server", summary: "Returns information and statistics about the server.") {
            session, arguments, replies in
            let report = InfoReport(server: session.server, store: await session.store.statistics)
            replies.writeVerbatimString(report.text(for: arguments.map { String(buffer: $0) }), protocol: session.protocolVersion)
            return .keepOpen
        },
        "config": Command(arity: -2, group: "server", summary: "A container for server configuration commands.") {
            session, arguments, replies in
            try config(session, arguments, &replies)
        },
        "command": Command(arity: -1, group: "server", summary: "Returns detailed information about all commands.") {
            session, arguments, replies in
            try command(session, arguments, &replies)
        },
    ]

    /// CONFIG GET parameter [parameter ...] | SET parameter value [parameter value ...] |
    /// RESETSTAT | REWRITE.
    private static func config(
        _ session: ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ReplyBuffer
    ) throws -> ClientSession.Outcome {
        let values = arguments.dropFirst().map { String(buffer: $0) }
        switch arguments[0].optionName {
        case "get":
            guard !values.isEmpty else { throw CommandError.wrongArgumentCount("config|get") }
            let matches = ConfigParameters.matching(values, server: session.server)
            replies.writeMapHeader(matches.count, protocol: session.protocolVersion)
            for (name, value) in matches {
                replies.writeBulkString(name)
                replies.writeBulkString(value)
            }
        case "set":
            guard values.count >= 2 else { throw CommandError.wrongArgumentCount("config|set") }
            guard values.count % 2 == 0 else { throw CommandError.syntax }
            let pairs = stride(from: 0, to: values.count, by: 2).map { (values[$0], values[$0 + 1]) }
            try ConfigParameters.set(pairs, server: session.server)
            replies.writeSimpleString("OK")
        case "resetstat" where values.isEmpty:
            replies.writeSimpleString("OK")
        case "rewrite" where values.isEmpty:
            throw CommandError("ERR The server is running without a config file")
        default:
            throw CommandError("ERR unknown subcommand '\(String(buffer: arguments[0]))'. Try CONFIG HELP.")
        }
        return .keepOpen
    }

    /// COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...]], enough for `redis-cli` to build
    /// its hints and for clients that look commands up.
    private static func command(
        _ session: ClientSession,
        _ arguments: [ByteBuffer],
        _ replies: inout ReplyBuffer
    ) throws -> ClientSession.Outcome {
        let names = arguments.dropFirst().map(\.optionName)
        let sorted = table.keys.sorted()
        switch arguments.first?.optionName {
        case nil:
            replies.writeArrayHeader(sorted.count)
            for name in sorted { writeInfo(name, to: &replies, protocol: session.protocolVersion) }
        case "count" where names.isEmpty:
            replies.writeRESPInteger(table.count)
        case "list" where names.isEmpty:
            replies.writeArrayHeader(sorted.count)
            for name in sorted { replies.writeBulkString(name) }
        case "info":
            let requested = names.isEmpty ? sorted : names
            replies.writeArrayHeader(requested.count)
            for name in requested { writeInfo(name, to: &replies, protocol: session.protocolVersion) }
        case "docs":
            let requested = (names.isEmpty ? sorted : names).filter { table[$0] != nil }
            replies.writeMapHeader(requested.count, protocol: session.protocolVersion)
            for name in requested { writeDocs(name, to: &replies, protocol: session.protocolVersion) }
        default:
            throw CommandError("ERR unknown subcommand '\(String(buffer: arguments[0]))'. Try COMMAND HELP.")
        }
        return .keepOpen
    }

    /// One command as COMMAND INFO describes it: name, arity, flags, key positions, ACL
    /// categories, tips, key specs, subcommands; null for an unknown name.
    private static func writeInfo(_ name: String, to replies: inout ReplyBuffer, protocol version: RESPProtocolVersion) {
        guard let command = table[name] else {
            replies.writeNullArray(protocol: version)
            return
        }
        let keys = command.keys.positions
        replies.writeArrayHeader(10)
        replies.writeBulkString(name)
        replies.writeRESPInteger(command.arity)
        replies.writeSetHeader(command.flags.count, protocol: version)
        for flag in command.flags { replies.writeSimpleString(flag) }
        replies.writeRESPInteger(keys.first)
        replies.writeRESPInteger(keys.last)
        replies.writeRESPInteger(keys.step)
        replies.writeSetHeader(1, protocol: version)
        replies.writeSimpleString("@\(command.group)")
        replies.writeArrayHeader(0)
        replies.writeArrayHeader(0)
        replies.writeArrayHeader(0)
    }

    /// One command as COMMAND DOCS describes it: its name, then a map of summary, since and group.
    private static func writeDocs(_ name: String, to replies: inout ReplyBuffer, protocol version: RESPProtocolVersion) {
        guard let command = table[name] else { return }
        replies.writeBulkString(name)
        replies.writeMapHeader(3, protocol: version)
        replies.writeBulkString("summary")
        replies.writeBulkString(command.summary)
        replies.writeBulkString("since")
        replies.writeBulkString("1.0.0")
        replies.writeBulkString("group")
        replies.writeBulkString(command.group)
    }
}
