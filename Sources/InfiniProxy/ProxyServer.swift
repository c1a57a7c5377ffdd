public import NIOCore
import NIOPosix
import RESP

/// The client-facing Redis endpoint: accepts connections and runs one session per client.
public struct ProxyServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Redis's `proto-max-bulk-len`: the largest value a client may send.
        public var maximumBulkLength: Int

        public init(host: String = "127.0.0.1", port: Int = 6378, maximumBulkLength: Int = 512 << 20) {
            self.host = host
            self.port = port
            self.maximumBulkLength = maximumBulkLength
        }
    }

    public let configuration: Configuration
    public let store: ObjectStore

    public init(configuration: Configuration, store: ObjectStore) {
        self.configuration = configuration
        self.store = store
    }

    /// Listens until the surrounding task is cancelled. `onListening` gets the bound address,
    /// which tells tests the real port when they asked for port 0.
    public func run(onListening: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        if let address = listener.channel.localAddress { await onListening(address) }
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { clients in
                for try await client in clients {
                    group.addTask { await serve(client) }
                }
            }
        }
    }

    /// Reads pipelined commands, answers them in order, and writes each read's replies at once.
    private func serve(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let limits = RESPCommandParser.Limits(maximumBulkLength: configuration.maximumBulkLength)
        try? await client.executeThenClose { inbound, outbound in
            var session = ClientSession(store: store)
            var parser = RESPCommandParser(limits: limits)
            var pending = ByteBuffer()
            for try await var bytes in inbound {
                pending.writeBuffer(&bytes)
                var replies = client.channel.allocator.buffer(capacity: 256)
                var closing = false
                while !closing {
                    let command: [ByteBuffer]?
                    do {
                        command = try parser.next(from: &pending)
                    } catch {
                        replies.writeError("ERR \(error)")
                        closing = true
                        break
                    }
                    guard let command else { break }
                    closing = await session.execute(command, replies: &replies) == .close
                }
                if replies.readableBytes > 0 { try await outbound.write(replies) }
                if closing { return }
                pending.discardReadBytes()
            }
        }
    }
}
