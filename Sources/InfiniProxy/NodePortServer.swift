import InfiniNodeProtocol
public import NIOCore
import NIOPosix
import RESP

/// The port memory nodes dial into. A connection must open with a `NODE-HELLO` naming a node
/// with a pending invocation and that invocation's session and token, within a few seconds;
/// otherwise it is dropped without anything else being read or sent, and logged.
public struct NodePortServer: Sendable {
    public var host: String
    public var port: Int
    public let pool: NodePool
    /// Told of every dropped connection, in one line naming the peer and why; never a secret.
    public let logDroppedConnection: @Sendable (String) -> Void
    static let helloTimeout = TimeAmount.seconds(5)

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        pool: NodePool,
        logDroppedConnection: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.pool = pool
        self.logDroppedConnection = logDroppedConnection
    }

    /// Listens until cancelled; `onListening` gets the bound address.
    public func run(onListening: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let (pool, log) = (self.pool, self.logDroppedConnection)
        let listener: any Channel
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // Reads of up to 1 MiB rather than NIO's 64 KiB: most chunks then arrive whole and
                // are parsed as slices of one read, instead of being assembled from several (that
                // assembly was a tenth of the proxy's CPU under 1 MiB GETs).
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NodeHelloHandler(pool: pool, logDroppedConnection: log))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw ListenFailure(purpose: "the node port", host: host, port: port, underlying: error)
        }
        if let address = listener.localAddress {
            pool.setNodeAddress("\(host):\(address.port ?? port)")
            await onListening(address)
        }
        try await withTaskCancellationHandler {
            try await listener.closeFuture.get()
        } onCancel: {
            listener.close(promise: nil)
        }
    }
}

/// The first handler on a node connection: reads only the hello, with a deadline, and either
/// drops the connection or replaces itself with the link's handler.
final class NodeHelloHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let pool: NodePool
    private let logDroppedConnection: @Sendable (String) -> Void
    private var buffer = ByteBuffer()
    private var parser = RESPCommandParser(
        limits: .init(maximumBulkLength: 256, maximumAggregateLength: 4, maximumInlineLength: 1024)
    )
    private var deadline: Scheduled<Void>?

    init(pool: NodePool, logDroppedConnection: @escaping @Sendable (String) -> Void) {
        self.pool = pool
        self.logDroppedConnection = logDroppedConnection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let (log, peer) = (logDroppedConnection, Self.describe(channel.remoteAddress))
        deadline = context.eventLoop.scheduleTask(in: NodePortServer.helloTimeout) {
            log("dropped a node connection from \(peer): no hello within \(NodePortServer.helloTimeout.nanoseconds / 1_000_000_000) s")
            channel.close(promise: nil)
        }
    }

    private static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "an unknown address" }
        return "\(ip):\(port)"
    }

    private func drop(_ context: ChannelHandlerContext, because reason: String) {
        logDroppedConnection("dropped a node connection from \(Self.describe(context.channel.remoteAddress)): \(reason)")
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        let hello: [ByteBuffer]?
        do {
            hello = try parser.next(from: &buffer)
        } catch {
            drop(context, because: "not a hello (\(error))")
            return
        }
        guard let hello else { return }
        guard hello.count == 4, String(buffer: hello[0]) == NodeProtocol.hello, let node = Int(String(buffer: hello[1])) else {
            drop(context, because: "not a hello")
            return
        }
        guard pool.authenticate(node: node, session: String(buffer: hello[2]), token: hello[3]) else {
            drop(context, because: "wrong session or token for memory node \(node)")
            return
        }
        let pool = self.pool
        let channel = context.channel
        let session = String(buffer: hello[2])
        let handler = NodeLinkHandler(
            nodeID: node,
            persistence: pool.persistence,
            requestTimeout: TimeAmount(pool.configuration.requestTimeout),
            onRecovery: { pool.recoveryNotice($0, from: node) }
        ) {
            pool.detach(node: node, session: session)
        }
        let link = NodeLink(nodeID: node, session: session, channel: channel, handler: handler)
        do {
            try context.pipeline.syncOperations.addHandler(handler, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        var ok = context.channel.allocator.buffer(capacity: 5)
        ok.writeSimpleString("OK")
        context.writeAndFlush(wrapOutboundOut(ok), promise: nil)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        pool.attach(link)
    }
}
