import NIOCore
import RESP

/// PING ECHO QUIT HELLO AUTH SELECT CLIENT: commands about the connection itself.
extension Command {
    static let connectionCommands: [String: Command] = [
        "ping": Command(arity: -1, group: "connection", summary: "Returns the server's liveliness response.", flags: ["fast"]) {
            _, arguments, replies in
            guard arguments.count <= 1 else { throw CommandError.wrongArgumentCount("ping") }
            if let message = arguments.first { replies.writeBulkString(message) } else { replies.writeSimpleString("PONG") }
            return .keepOpen
        },
        "echo": Command(arity: 2, group: "connection", summary: "Returns the given string.", flags: ["fast"]) {
            _, arguments, replies in
            replies.writeBulkString(arguments[0])
            return .keepOpen
        },
        "quit": Command(arity: -1, group: "connection", summary: "Closes the connection.", flags: ["no-auth", "fast"]) {
            _, _, replies in
            replies.writeSimpleString("OK")
            return .close
        },
        "hello": Command(arity: -1, group: "connection", summary: "Handshakes with the Redis server.", flags: ["no-auth", "fast"]) {
            session, arguments, replies in
            try session.hello(arguments, replies: &replies)
        },
        "auth": Command(arity: -2, group: "connection", summary: "Authenticates the connection.", flags: ["no-auth", "fast"]) {
            session, arguments, replies in
            guard arguments.count <= 2 else { throw CommandError.syntax }
            guard arguments.count == 2 || session.server.settings.password != nil else {
                throw CommandError(
                    "ERR AUTH <password> called without any password configured for the default user. "
                        + "Are you sure your configuration is correct?"
                )
            }
            try session.authenticate(user: arguments.count == 2 ? arguments[0] : nil, password: arguments[arguments.count - 1])
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "select": Command(arity: 2, group: "connection", summary: "Changes the selected database.", flags: ["fast"]) {
            _, arguments, replies in
            guard try arguments[0].integerArgument() == 0 else { throw CommandError("ERR DB index is out of range") }
            replies.writeSimpleString("OK")
            return .keepOpen
        },
        "client": Command(arity: -2, group: "connection", summary: "A container for client connection commands.") {
            session, arguments, replies in
            try session.client(arguments, replies: &replies)
        },
    ]
}

extension ClientSession {
    /// HELLO [protover [AUTH username password] [SETNAME clientname]], checked in Redis's order:
    /// version, options, credentials, then authentication; nothing changes unless all pass.
    mutating func hello(_ arguments: [ByteBuffer], replies: inout ReplyBuffer) throws -> Outcome {
        var requested: RESPProtocolVersion?
        if let version = arguments.first {
            guard let number = version.redisInteger else {
                throw CommandError("ERR Protocol version is not an integer or out of range")
            }
            guard let version = RESPProtocolVersion(rawValue: Int(number)) else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            requested = version
        }
        var credentials: (user: ByteBuffer, password: ByteBuffer)?
        var newName: ByteBuffer?
        var index = 1
        while index < arguments.count {
            let remaining = arguments.count - index - 1
            switch arguments[index].optionName {
            case "auth" where remaining >= 2:
                credentials = (arguments[index + 1], arguments[index + 2])
                index += 3
            case "setname" where remaining >= 1:
                newName = arguments[index + 1]
                index += 2
            default:
                throw CommandError("ERR Syntax error in HELLO option '\(String(buffer: arguments[index]))'")
            }
        }
        if let credentials { try authenticate(user: credentials.user, password: credentials.password) }
        guard !needsAuthentication else {
            throw CommandError(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
                    + "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
                    + "protocol version at the same time"
            )
        }
        if let newName { try setName(newName) }
        if let requested { protocolVersion = requested }
        replies.writeMapHeader(7, protocol: protocolVersion)
        replies.writeBulkString("server")
        replies.writeBulkString("redis")
        replies.writeBulkString("version")
        replies.writeBulkString(InfoReport.redisVersion)
        replies.writeBulkString("proto")
        replies.writeRESPInteger(protocolVersion.rawValue)
        replies.writeBulkString("id")
        replies.writeRESPInteger(id)
        replies.writeBulkString("mode")
        replies.writeBulkString("standalone")
        replies.writeBulkString("role")
        replies.writeBulkString("master")
        replies.writeBulkString("modules")
        replies.writeArrayHeader(0)
        return .keepOpen
    }

    /// Checks credentials for the only user there is, `default`. Without a configured password
    /// any password works for `default`, as for Redis's `nopass` default user. The reply never
    /// says which part was wrong, and the password is compared in time independent of where it
    /// differs.
    mutating func authenticate(user: ByteBuffer?, password: ByteBuffer) throws {
        let expected = server.settings.password
        let userMatches = user.map { String(buffer: $0) == "default" } ?? true
        let passwordMatches = expected.map { Self.constantTimeEqual(Array($0.utf8), Array(password.readableBytesView)) } ?? true
        guard userMatches, passwordMatches else {
            throw CommandError("WRONGPASS invalid username-password pair or user is disabled.")
        }
        isAuthenticated = true
    }

    private static func constantTimeEqual(_ expected: [UInt8], _ given: [UInt8]) -> Bool {
        var difference: UInt8 = expected.count == given.count ? 0 : 1
        for index in 0..<max(expected.count, given.count) {
            let left = index < expected.count ? expected[index] : 0
            let right = index < given.count ? given[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }

    mutating func setName(_ newName: ByteBuffer) throws {
        guard !newName.readableBytesView.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else {
            throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
        name = newName.readableBytes == 0 ? nil : ByteBuffer(bytes: newName.readableBytesView)
    }

    mutating func client(_ arguments: [ByteBuffer], replies: inout ReplyBuffer) throws -> Outcome {
        switch (arguments[0].optionName, arguments.count) {
        case ("setname", 2):
            try setName(arguments[1])
            replies.writeSimpleString("OK")
        case ("getname", 1):
            writeValue(name.map(ValueBytes.init), to: &replies)
        case ("id", 1):
            replies.writeRESPInteger(id)
        case ("setinfo", 3):
            replies.writeSimpleString("OK")
        default:
            throw CommandError(
                "ERR unknown subcommand or wrong number of arguments for '\(String(buffer: arguments[0]))'. Try CLIENT HELP."
            )
        }
        return .keepOpen
    }
}
