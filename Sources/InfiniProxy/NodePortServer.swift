import InfiniNodeProtocol
public import NIOCore
import NIOPosix
import RESP

/// The port memory nodes dial into. A connection must open with a `NODE-HELLO` naming a node
/// with a pending invocation and that invocation's session and token, within a few seconds;
/// otherwise it is dropped without anything else being read or sent.
public struct NodePortServer: Sendable {
    public var host: String
    public var port: Int
    public let pool: NodePool
    static let helloTimeout = TimeAmount.seconds(5)

    public init(host: String = "127.0.0.1", port: Int = 6379, pool: NodePool) {
        self.host = host
        self.port = port
        self.pool = pool
    }

    /// Listens until cancelled; `onListening` gets the bound address.
    public func run(onListening: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let deadline = channel.eventLoop.scheduleTask(in: Self.helloTimeout) { channel.close(promise: nil) }
                    let asyncChannel = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return (asyncChannel, deadline)
                }
            }
        if let address = listener.channel.localAddress {
            await pool.setNodeAddress("\(host):\(address.port ?? port)")
            await onListening(address)
        }
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { connections in
                for try await (connection, deadline) in connections {
                    group.addTask { await serve(connection, helloDeadline: deadline) }
                }
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, helloDeadline: Scheduled<Void>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var buffer = ByteBuffer()
            var iterator = inbound.makeAsyncIterator()
            var helloParser = RESPCommandParser(
                limits: .init(maximumBulkLength: 256, maximumAggregateLength: 4, maximumInlineLength: 1024)
            )
            var hello: [ByteBuffer]?
            while hello == nil {
                guard var bytes = try await iterator.next() else { return }
                buffer.writeBuffer(&bytes)
                hello = try helloParser.next(from: &buffer)
            }
            guard let hello, hello.count == 4, String(buffer: hello[0]) == NodeProtocol.hello,
                let node = Int(String(buffer: hello[1])),
                await pool.authenticate(node: node, session: String(buffer: hello[2]), token: hello[3])
            else { return }
            helloDeadline.cancel()
            var ok = ByteBuffer()
            ok.writeSimpleString("OK")
            try await outbound.write(ok)

            let link = NodeLink(nodeID: node, session: String(buffer: hello[2]), outbound: outbound)
            await pool.attach(link)
            var reason = "the link closed"
            var parser = RESPParser(limits: .init(maximumBulkLength: NodeProtocol.maximumFrameLength))
            do {
                reading: while true {
                    while let value = try parser.next(from: &buffer) {
                        if case .push(let fields) = value, fields.first?.stringValue == NodeProtocol.bye {
                            reason = "the node returned"
                            break reading
                        }
                        await link.deliver(value)
                    }
                    buffer.discardReadBytes()
                    guard var bytes = try await iterator.next() else { break reading }
                    buffer.writeBuffer(&bytes)
                }
            } catch {
                reason = "link error: \(error)"
            }
            await link.close(reason: reason)
            await pool.detach(link)
        }
    }
}
