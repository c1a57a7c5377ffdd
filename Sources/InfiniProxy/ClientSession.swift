import NIOCore
import Synchronization
import RESP

/// One client connection's state and its command table.
struct ClientSession {
    enum Outcome { case keepOpen, close }

    let store: ObjectStore
    private(set) var protocolVersion = RESPProtocolVersion.v2
    private var name: ByteBuffer?
    let id: Int

    private static let nextID = Counter()

    init(store: ObjectStore) {
        self.store = store
        self.id = Self.nextID.next()
    }

    /// Runs one command and appends its reply.
    mutating func execute(_ arguments: [ByteBuffer], replies: inout ByteBuffer) async -> Outcome {
        guard let first = arguments.first else { return .keepOpen }
        let name = String(buffer: first).lowercased()
        guard let command = Command.table[name] else {
            replies.writeError(Self.unknownCommand(String(buffer: first), arguments.dropFirst()))
            return .keepOpen
        }
        guard command.accepts(argumentCount: arguments.count) else {
            replies.writeError("ERR wrong number of arguments for '\(name)' command")
            return .keepOpen
        }
        do {
            return try await command.run(&self, Array(arguments.dropFirst()), &replies)
        } catch let error as CommandError {
            replies.writeError(error.message)
        } catch {
            replies.writeError("ERR \(error)")
        }
        return .keepOpen
    }

    /// Redis's text, arguments cut to 128 bytes each.
    static func unknownCommand(_ name: String, _ arguments: ArraySlice<ByteBuffer>) -> String {
        var text = "ERR unknown command '\(name.prefix(128))', with args beginning with: "
        for argument in arguments { text += "'\(String(buffer: argument).prefix(128))' " }
        return text
    }

    mutating func hello(_ arguments: [ByteBuffer], replies: inout ByteBuffer) throws -> Outcome {
        var index = 0
        if let version = arguments.first {
            guard let number = Int(String(buffer: version)) else {
                throw CommandError("ERR Protocol version is not an integer or out of range")
            }
            guard let requested = RESPProtocolVersion(rawValue: number) else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            protocolVersion = requested
            index = 1
        }
        while index < arguments.count {
            let option = String(buffer: arguments[index]).lowercased()
            if option == "setname", index + 1 < arguments.count {
                name = arguments[index + 1]
                index += 2
            } else if option == "auth", index + 2 < arguments.count {
                index += 3
            } else {
                throw CommandError("ERR Syntax error in HELLO option '\(String(buffer: arguments[index]))'")
            }
        }
        replies.writeMapHeader(7, protocol: protocolVersion)
        replies.writeBulkString("server")
        replies.writeBulkString("redis")
        replies.writeBulkString("version")
        replies.writeBulkString("7.2.0")
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

    mutating func client(_ arguments: [ByteBuffer], replies: inout ByteBuffer) throws -> Outcome {
        let subcommand = String(buffer: arguments[0]).lowercased()
        switch (subcommand, arguments.count) {
        case ("setname", 2):
            guard !arguments[1].readableBytesView.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else {
                throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            name = arguments[1]
            replies.writeSimpleString("OK")
        case ("getname", 1):
            if let name { replies.writeBulkString(name) } else { replies.writeNull(protocol: protocolVersion) }
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

/// An error reply, already in Redis's words (prefix included).
struct CommandError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Hands out connection ids.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
