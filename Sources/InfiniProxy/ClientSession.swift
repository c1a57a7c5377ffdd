import NIOCore
import Synchronization
import RESP

/// One client connection's state, and the checks every command goes through before it runs.
struct ClientSession {
    enum Outcome { case keepOpen, close }

    let server: ServerState
    var store: ObjectStore { server.store }
    var protocolVersion = RESPProtocolVersion.v2
    var name: ByteBuffer?
    /// Whether the client has AUTHed, or connected while no password was set (as in Redis,
    /// setting a password later does not lock out clients already connected).
    var isAuthenticated: Bool
    let id: Int
    /// Bytes of the shared client memory held for the large value of the command still arriving.
    var arrivingValueMemory = 0

    private static let nextID = Counter()

    init(server: ServerState) {
        self.server = server
        self.isAuthenticated = server.settings.password == nil
        self.id = Self.nextID.next()
    }

    /// Whether commands other than AUTH, HELLO and QUIT must wait for AUTH.
    var needsAuthentication: Bool { !isAuthenticated && server.settings.password != nil }

    /// Runs one command and appends its reply. Checks come in Redis's order: unknown command,
    /// arity, then authentication.
    mutating func execute(_ arguments: [ByteBuffer], replies: inout ReplyBuffer) async -> Outcome {
        guard let first = arguments.first else { return .keepOpen }
        let name = first.optionName
        guard let command = Command.table[name] else {
            replies.writeError(Self.unknownCommand(String(buffer: first), arguments.dropFirst()))
            return .keepOpen
        }
        guard command.accepts(argumentCount: arguments.count) else {
            replies.writeError(CommandError.wrongArgumentCount(name).message)
            return .keepOpen
        }
        guard command.isAllowedBeforeAuthentication || !needsAuthentication else {
            replies.writeError("NOAUTH Authentication required.")
            return .keepOpen
        }
        do {
            return try await command.run(&self, Array(arguments.dropFirst()), &replies)
        } catch {
            replies.writeError(Self.errorMessage(error))
        }
        return .keepOpen
    }

    /// The error reply for a command that threw `error`.
    static func errorMessage(_ error: any Error) -> String {
        if let error = error as? CommandError { return error.message }
        return "ERR \(error)"
    }

    /// Redis's text, arguments cut to 128 bytes each.
    static func unknownCommand(_ name: String, _ arguments: ArraySlice<ByteBuffer>) -> String {
        var text = "ERR unknown command '\(name.prefix(128))', with args beginning with: "
        for argument in arguments { text += "'\(String(buffer: argument).prefix(128))' " }
        return text
    }

    /// The client memory a read that answers into `replies` draws on: it may wait for its share
    /// only while this client holds none, neither for a value arriving nor for replies unsent.
    func clientMemory(beside replies: ReplyBuffer) -> ClientMemory {
        ClientMemory(budget: server.clientMemory, mayWait: arrivingValueMemory == 0 && !replies.holdsClientMemory)
    }

    /// Writes a bulk string, or null for a missing value.
    func writeValue(_ value: ValueBytes?, to replies: inout ReplyBuffer) {
        if let value { replies.writeBulkString(value) } else { replies.writeNull(protocol: protocolVersion) }
    }
}

/// Hands out connection ids.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
