import InfiniNodeProtocol
import NIOCore
import RESP

/// Every memory node's state as the proxy sees it: sleeping (no link), activating (invoked,
/// waiting for its authenticated link), or active (linked). Requests for a sleeping node invoke it
/// and wait for its link; the invocations run as child tasks of ``run()``.
public actor NodePool {
    public struct Configuration: Sendable {
        public var nodeCount: Int
        /// How long an invoked node may take to dial in and authenticate.
        public var activationTimeout: Duration

        public init(nodeCount: Int, activationTimeout: Duration = .seconds(10)) {
            self.nodeCount = nodeCount
            self.activationTimeout = activationTimeout
        }
    }

    private struct Activation {
        var session: String
        var token: String
        var waiters: [CheckedContinuation<NodeLink, any Error>] = []
    }

    public let configuration: Configuration
    private let invoker: any Invoker
    private var nodeAddress: String?
    private var links: [Int: NodeLink] = [:]
    private var activations: [Int: Activation] = [:]
    private let invocations: AsyncStream<InvocationEvent>
    private let invocationQueue: AsyncStream<InvocationEvent>.Continuation

    public init(configuration: Configuration, invoker: any Invoker) {
        self.configuration = configuration
        self.invoker = invoker
        (invocations, invocationQueue) = AsyncStream.makeStream(of: InvocationEvent.self)
    }

    /// The nodes as the data path uses them.
    public nonisolated var chunkNodes: [any ChunkNode] {
        (0..<configuration.nodeCount).map { RemoteChunkNode(id: $0, pool: self) }
    }

    /// Where invoked nodes dial in; known once the node port is bound.
    public func setNodeAddress(_ address: String) {
        nodeAddress = address
    }

    /// Runs invocations until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await event in invocations {
                let invoker = self.invoker
                let timeout = configuration.activationTimeout
                group.addTask {
                    let outcome: Result<[UInt8], any Error>
                    do {
                        outcome = .success(try await invoker.invoke(nodeID: event.nodeID, event: event.encoded()))
                    } catch {
                        outcome = .failure(error)
                    }
                    await self.invocationEnded(event, outcome)
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    await self.activationTimedOut(event)
                }
            }
        }
    }

    /// An open link to `node`, invoking it first if it sleeps.
    func link(for node: Int) async throws -> NodeLink {
        if let link = links[node], await link.isOpen { return link }
        if activations[node] == nil {
            guard let nodeAddress else { throw NodeUnavailable(node: node, reason: "the node port is not listening yet") }
            let activation = Activation(session: InvocationEvent.randomSecret(), token: InvocationEvent.randomSecret())
            activations[node] = activation
            invocationQueue.yield(
                InvocationEvent(
                    nodeID: node,
                    proxyAddress: nodeAddress,
                    session: activation.session,
                    token: activation.token,
                    command: .ping
                )
            )
        }
        return try await withCheckedThrowingContinuation { activations[node]?.waiters.append($0) }
    }

    /// Whether a dialing node presents the session and token of its pending invocation.
    func authenticate(node: Int, session: String, token: ByteBuffer) -> Bool {
        guard let activation = activations[node], activation.session == session else { return false }
        return NodeProtocol.secretsMatch(activation.token.utf8, token.readableBytesView)
    }

    /// Makes an authenticated link the node's link and hands it to everyone waiting.
    func attach(_ link: NodeLink) {
        links[link.nodeID] = link
        guard let activation = activations.removeValue(forKey: link.nodeID) else { return }
        for waiter in activation.waiters { waiter.resume(returning: link) }
    }

    func detach(_ link: NodeLink) {
        if links[link.nodeID] === link { links[link.nodeID] = nil }
    }

    private func invocationEnded(_ event: InvocationEvent, _ outcome: Result<[UInt8], any Error>) async {
        if let link = links[event.nodeID], link.session == event.session {
            await link.close(reason: "the node returned")
            links[event.nodeID] = nil
        }
        if case .failure(let error) = outcome {
            failActivation(event, NodeUnavailable(node: event.nodeID, reason: "\(error)"))
        } else {
            failActivation(event, NodeUnavailable(node: event.nodeID, reason: "returned without connecting"))
        }
    }

    private func activationTimedOut(_ event: InvocationEvent) {
        failActivation(event, NodeUnavailable(node: event.nodeID, reason: "did not connect in time"))
    }

    private func failActivation(_ event: InvocationEvent, _ error: NodeUnavailable) {
        guard let activation = activations[event.nodeID], activation.session == event.session else { return }
        activations[event.nodeID] = nil
        for waiter in activation.waiters { waiter.resume(throwing: error) }
    }
}

/// The data path's view of one pooled node: each request goes over the node's current link,
/// invoking the node when it sleeps, and is retried once on a fresh link if the node returned
/// while the request was on its way.
struct RemoteChunkNode: ChunkNode {
    let id: Int
    let pool: NodePool

    func store(_ chunk: ChunkID, bytes: [UInt8]) async throws {
        let reply = try await request(.set, [ByteBuffer(string: chunk.description), ByteBuffer(bytes: bytes)])
        guard reply.stringValue == "OK" else { throw NodeUnavailable(node: id, reason: "refused a chunk: \(reply)") }
    }

    func fetch(_ chunk: ChunkID) async throws -> [UInt8]? {
        let reply = try await request(.get, [ByteBuffer(string: chunk.description)])
        if reply.isNull { return nil }
        guard let bytes = reply.bufferValue, !reply.isError else {
            throw NodeUnavailable(node: id, reason: "bad reply: \(reply)")
        }
        return Array(bytes.readableBytesView)
    }

    func remove(_ chunks: [ChunkID]) async {
        _ = try? await request(.delete, chunks.map { ByteBuffer(string: $0.description) })
    }

    private func request(_ command: NodeProtocol.Command, _ arguments: [ByteBuffer]) async throws -> RESPValue {
        do {
            return try await pool.link(for: id).request(command, arguments)
        } catch is NodeLinkClosed {
            return try await pool.link(for: id).request(command, arguments)
        }
    }
}
