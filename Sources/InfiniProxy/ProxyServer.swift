public import NIOCore
import NIOPosix
import RESP

/// The client-facing Redis endpoint: accepts connections, runs one session per client, and
/// sweeps expired keys in the background.
public struct ProxyServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Redis's `proto-max-bulk-len`: the largest value a client may send.
        public var maximumBulkLength: Int
        /// Redis's `requirepass`: clients must AUTH with it first; nil lets everyone in.
        public var password: String?
        /// Redis's `maxclients`: connections beyond it are told so and closed.
        public var maximumClients: Int
        /// Redis's `client-query-buffer-limit`: a client leaving more unparsed bytes buffered
        /// than this is disconnected.
        public var queryBufferLimit: Int
        /// Most bytes of large values (``ClientMemory/largeValueLength`` and up) arriving from
        /// and read for all clients at once: a client whose next value would pass it waits until
        /// values before it are stored or sent. One value always goes through, however large.
        public var clientMemory: Int

        /// The default ``clientMemory``: two values of the default maximum length.
        public static let defaultClientMemory = 1 << 30

        /// - Precondition: `queryBufferLimit >= maximumBulkLength`, so the largest accepted
        ///   value fits in the query buffer.
        public init(
            host: String = "127.0.0.1",
            port: Int = 6378,
            maximumBulkLength: Int = 512 << 20,
            password: String? = nil,
            maximumClients: Int = 10_000,
            queryBufferLimit: Int = 1 << 30,
            clientMemory: Int = defaultClientMemory
        ) {
            precondition(queryBufferLimit >= maximumBulkLength, "client-query-buffer-limit below proto-max-bulk-len")
            precondition(maximumClients >= 1, "maxclients below 1")
            precondition(clientMemory >= 1, "client memory below one byte")
            self.host = host
            self.port = port
            self.maximumBulkLength = maximumBulkLength
            self.password = password
            self.maximumClients = maximumClients
            self.queryBufferLimit = queryBufferLimit
            self.clientMemory = clientMemory
        }
    }

    /// Most room made ahead for a large argument before its bytes arrive.
    static let bulkRoomAhead = 2 << 20

    /// How often the expiry sweep runs: Redis's default `hz` of 10.
    static let sweepInterval = Duration.milliseconds(100)

    public let configuration: Configuration
    public let store: ObjectStore
    /// The memory nodes behind `store`, for INFO; nil when the store's nodes are not pooled.
    public let nodePool: NodePool?

    public init(configuration: Configuration, store: ObjectStore, nodePool: NodePool? = nil) {
        self.configuration = configuration
        self.store = store
        self.nodePool = nodePool
    }

    /// Listens until the surrounding task is cancelled. `onListening` gets the bound address,
    /// which tells tests the real port when they asked for port 0.
    public func run(onListening: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let listener: NIOAsyncChannel<ClientConnection, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let connection = ClientConnection(channel: channel)
                        try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(connection: connection))
                        return connection
                    }
                }
        } catch {
            throw ListenFailure(purpose: "the client port", host: configuration.host, port: configuration.port, underlying: error)
        }
        let address = listener.channel.localAddress
        let state = ServerState(configuration: configuration, store: store, nodePool: nodePool, port: address?.port ?? configuration.port)
        if let address { await onListening(address) }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await sweepExpiredKeys() }
            group.addTask { await store.runMaintenance() }
            try await listener.executeThenClose { clients in
                for try await client in clients {
                    guard state.admitClient() else {
                        reject(client)
                        continue
                    }
                    group.addTask {
                        await serve(client, state: state)
                        state.clientDisconnected()
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Holds as much of the shared client memory as the command still arriving needs, once it
    /// carries a large value. Commands that ran gave back what they held, so a new one waits for
    /// its share holding nothing; a command already holding some takes more without waiting,
    /// because two clients each waiting for the other's bytes would wait for good.
    private static func hold(_ held: inout Int, of budget: ByteBudget, for needed: Int, afterExecuting executed: Bool) async throws {
        if executed { release(&held, of: budget) }
        guard needed >= ClientMemory.largeValueLength, needed > held else { return }
        if held == 0 {
            try await budget.reserve(needed)
        } else {
            budget.take(needed - held)
        }
        held = needed
    }

    private static func release(_ held: inout Int, of budget: ByteBudget) {
        budget.release(held)
        held = 0
    }

    /// Removes expired keys nobody reads, until cancelled.
    private func sweepExpiredKeys() async {
        while true {
            do { try await Task.sleep(for: Self.sweepInterval) } catch { return }
            await store.removeExpiredKeys()
        }
    }

    /// Tells a client over `maxclients` why, as Redis does, and closes it.
    private func reject(_ client: ClientConnection) {
        var reply = client.channel.allocator.buffer(capacity: 40)
        reply.writeError("ERR max number of clients reached")
        client.reject(with: reply)
    }

    /// Reads pipelined commands, answers them in order, and writes each read's replies at once.
    private func serve(_ client: ClientConnection, state: ServerState) async {
        defer { client.close() }
        try? await converse(with: client, state: state)
    }

    private func converse(with client: ClientConnection, state: ServerState) async throws {
        let limits = RESPCommandParser.Limits(maximumBulkLength: configuration.maximumBulkLength)
        var session = ClientSession(server: state)
        defer { Self.release(&session.arrivingValueMemory, of: state.clientMemory) }
        var parser = RESPCommandParser(limits: limits)
        var input = ClientInput(client)
        // Writes return once replies are queued, except that replies whose values hold
        // client memory are waited for until sent, so the memory is given back only once it
        // is free. A stripe that cannot be read after its value's reply began throws, and
        // the connection closes: nothing else can be sent in the middle of a bulk string.
        func send(_ replies: ReplyBuffer) async throws {
            try await replies.write { try await client.write($0) }
            if replies.holdsClientMemory { try await client.allSent() }
        }
        var mustRead = true
        while true {
            if mustRead {
                guard await input.read() else { return }
            }
            mustRead = true
            var replies = ReplyBuffer(allocator: client.channel.allocator)
            var commands: [[ByteBuffer]] = []
            var malformed: (any Error)?
            // Until the client authenticates, each request runs before the next is parsed:
            // an AUTH decides the limits the requests after it are held to.
            parser.clientIsUnauthenticated = session.needsAuthentication
            do {
                while let command = try parser.next(from: &input.pending) {
                    commands.append(command)
                    if parser.clientIsUnauthenticated {
                        mustRead = input.pending.readableBytes == 0
                        break
                    }
                }
            } catch {
                malformed = error
            }
            let (executed, outcome) = try await session.execute(pipeline: commands, replies: &replies, flush: send)
            var closing = outcome == .close
            if !closing, let malformed {
                replies.writeError("ERR \(malformed)")
                closing = true
            }
            state.countCommands(executed)
            if replies.readableBytes > 0 { try await send(replies) }
            // Like Redis, a client over the limit is dropped without a reply: it is either
            // broken or hostile, and what it sent so far cannot be answered.
            if closing || input.pending.readableBytes > state.settings.queryBufferLimit { return }
            if let (leading, length) = parser.requestAwaitingLastArgument(in: input.pending),
                let arriving = session.arrivingValue(leading, lastLength: length)
            {
                let key = Command.owned(leading[1])
                parser.handOverLastArgument(in: &input.pending)
                try await Self.hold(
                    &session.arrivingValueMemory, of: state.clientMemory, for: session.memory(for: arriving, length: length),
                    afterExecuting: true)
                var replies = ReplyBuffer(allocator: client.channel.allocator)
                do {
                    switch arriving {
                    case .storedStripeByStripe:
                        try await session.setArriving(
                            key: key, length: length, from: &input, allocator: client.channel.allocator, replies: &replies)
                    case .takenInParts:
                        try await session.setTakenInParts(key: key, length: length, from: &input, replies: &replies)
                    }
                } catch let error as RESPParsingError {
                    replies.writeError("ERR \(error)")
                    try await send(replies)
                    return
                }
                state.countCommands(1)
                try await send(replies)
                Self.release(&session.arrivingValueMemory, of: state.clientMemory)
                // Commands sent after the value may be here already.
                mustRead = input.pending.readableBytes == 0
                continue
            }
            input.pending.discardReadBytes()
            try await Self.hold(
                &session.arrivingValueMemory, of: state.clientMemory, for: parser.readableBytesNeeded ?? 0,
                afterExecuting: !commands.isEmpty)
            // A large value arrives in many reads: room for it is made ahead rather than by
            // doubling read by read, but never more than the bytes already sent (or 2 MiB),
            // so a length claimed and never sent cannot make the proxy allocate it.
            if let needed = parser.readableBytesNeeded, needed > input.pending.readableBytes {
                let room = min(needed - input.pending.readableBytes, max(input.pending.readableBytes, Self.bulkRoomAhead))
                input.pending.reserveCapacity(minimumWritableBytes: room)
            }
        }
    }
}
