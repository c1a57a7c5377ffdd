import InfiniCoding
import InfiniProxy
import NIOCore
import NIOPosix
import RESP
import Synchronization
import Testing

/// Runs a server in a child task, calls `body` with the port it bound, then stops the server.
/// `run` must report its port through the callback it is given before serving.
func withServer(
    _ run: @escaping @Sendable (_ onListening: @escaping @Sendable (Int) async -> Void) async throws -> Void,
    _ body: (_ port: Int) async throws -> Void
) async throws {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { portContinuation.finish() }
            try await run { port in portContinuation.yield(port) }
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next(), "the server stopped before listening")
        defer { group.cancelAll() }
        try await body(port)
    }
}

/// Runs `body` against an InfiniStore proxy on a free loopback port, storing 4+2 over six
/// in-process memory nodes.
func withProxy(_ body: (_ port: Int) async throws -> Void) async throws {
    let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
    let store = ObjectStore(configuration: .init(geometry: try ErasureGeometry("4+2")), nodes: nodes)
    let server = ProxyServer(configuration: .init(port: 0), store: store)
    try await withServer({ onListening in
        try await server.run { address in await onListening(address.port ?? 0) }
    }, body)
}

/// A deliberately small Redis server for tests: SET, GET and DEL on registers in memory, one
/// lock around all of them, so it is linearizable unless told to misbehave.
final class RegisterServer: Sendable {
    enum Behavior: Sendable {
        case correct
        /// Every `n`th GET answers with the key's value before its latest write.
        case staleReads(every: Int)
        /// Reads requests and never answers.
        case silent
        /// Closes the connection when a request arrives, without answering.
        case hangUp
        /// Answers every request with the integer 1, a reply no SET or GET can get.
        case integerReplies
    }

    private struct Register {
        var current: ByteBuffer?
        var previous: ByteBuffer?
    }

    private struct State {
        var registers: [ByteBuffer: Register] = [:]
        var reads = 0
    }

    let behavior: Behavior
    private let state = Mutex(State())

    init(_ behavior: Behavior) {
        self.behavior = behavior
    }

    func run(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        await onListening(listener.channel.localAddress?.port ?? 0)
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { clients in
                for try await client in clients {
                    group.addTask { try? await self.serve(client) }
                }
            }
        }
    }

    private func serve(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        try await client.executeThenClose { inbound, outbound in
            var parser = RESPCommandParser()
            var pending = ByteBuffer()
            for try await var bytes in inbound {
                pending.writeBuffer(&bytes)
                var replies = ByteBuffer()
                while let command = try parser.next(from: &pending) {
                    switch self.behavior {
                    case .hangUp:
                        return
                    case .silent:
                        continue
                    case .integerReplies:
                        replies.writeRESPInteger(1)
                    case .correct, .staleReads:
                        self.execute(command, into: &replies)
                    }
                }
                if replies.readableBytes > 0 { try await outbound.write(replies) }
            }
        }
    }

    private func execute(_ command: [ByteBuffer], into replies: inout ByteBuffer) {
        let name = command.first.map { String(buffer: $0).uppercased() } ?? ""
        self.state.withLock { state in
            switch (name, command.count) {
            case ("SET", 3):
                let register = state.registers[command[1]]
                state.registers[command[1]] = Register(current: command[2], previous: register?.current)
                replies.writeSimpleString("OK")
            case ("DEL", 2):
                let register = state.registers[command[1]]
                state.registers[command[1]] = Register(current: nil, previous: register?.current)
                replies.writeRESPInteger(register?.current == nil ? 0 : 1)
            case ("GET", 2):
                state.reads += 1
                let register = state.registers[command[1]]
                var stale = false
                if case .staleReads(let every) = self.behavior { stale = state.reads % every == 0 }
                if let value = stale ? register?.previous : register?.current {
                    replies.writeBulkString(value)
                } else {
                    replies.writeNull(protocol: .v2)
                }
            default:
                replies.writeError("ERR unknown command")
            }
        }
    }
}
