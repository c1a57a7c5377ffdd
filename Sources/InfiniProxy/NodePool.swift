import InfiniNodeProtocol
import NIOCore
import RESP
import Synchronization

/// Every memory node's state as the proxy sees it: sleeping (no link), activating (invoked,
/// waiting for its authenticated link), or active (linked). Requests for a sleeping node invoke it
/// and wait for its link; the invocations run as child tasks of ``run()``.
///
/// The state sits behind a lock rather than in an actor: every chunk request looks up its node's
/// link, and that lookup must not cost a hop to another executor.
public final class NodePool: Sendable {
    public struct Configuration: Sendable {
        public var nodeCount: Int
        /// How long an invoked node may take to dial in and authenticate.
        public var activationTimeout: Duration
        /// How long a request to a node may wait for its reply: a write stuck on a node fails
        /// by this deadline instead of hanging its client.
        public var requestTimeout: Duration
        /// How often a sleeping node gets a warm-up invocation, which returns at once, so the
        /// platform keeps its sandbox (and the chunks in its memory) instead of reclaiming it
        /// when idle; nil sends none.
        public var warmupInterval: Duration?
        /// Most helper nodes one node's recovery gets (parallel recovery); 0 for none.
        public var recoveryHelpers: Int
        /// A restoring node gets one helper per this many bytes to restore, up to
        /// ``recoveryHelpers``.
        public var bytesPerRecoveryHelper: Int
        /// How long nodes hold each chunk's COS write back, so a chunk superseded within it (an
        /// overwritten hot key) is never written; zero writes at once.
        public var writeBehind: Duration

        public init(
            nodeCount: Int,
            activationTimeout: Duration = .seconds(10),
            requestTimeout: Duration = .seconds(30),
            warmupInterval: Duration? = nil,
            recoveryHelpers: Int = 0,
            bytesPerRecoveryHelper: Int = 64 << 20,
            writeBehind: Duration = .zero
        ) {
            self.nodeCount = nodeCount
            self.activationTimeout = activationTimeout
            self.requestTimeout = requestTimeout
            self.warmupInterval = warmupInterval
            self.recoveryHelpers = recoveryHelpers
            self.bytesPerRecoveryHelper = max(1, bytesPerRecoveryHelper)
            self.writeBehind = max(writeBehind, .zero)
        }
    }

    private struct Activation {
        var session: String
        var token: String
        /// Requests waiting for the link, each with an id so a cancelled one can leave.
        var waiters: [(id: Int, continuation: CheckedContinuation<NodeLink, any Error>)] = []
    }

    /// The helpers of one node's restore: the helper serving each hash partition, with the
    /// session of the link it was asked on (its helped chunks live as long as that stay).
    private struct Recovery {
        var id: Int
        var partitions: Int
        var helpers: [Int: (node: Int, session: String)] = [:]
    }

    private struct State {
        var nodeAddress: String?
        var recoveries: [Int: Recovery] = [:]
        /// Nodes whose restore was announced as ended over their link during the invocation
        /// now running, so its outcome does not announce it again.
        var restoresAnnounced: Set<Int> = []
        var lastRecoveryID = 0
        var links: [Int: NodeLink] = [:]
        var activations: [Int: Activation] = [:]
        /// Set once ``run()`` stops taking invocations: nobody would invoke a sleeping node or
        /// time its activation out any more, so requests for one fail at once.
        var isStopped = false
        var lastWaiterID = 0
    }

    public let configuration: Configuration
    /// Told of persisted chunks and lost nodes; nil when nodes keep chunks in memory only.
    public let persistence: PersistenceTracker?
    private let invoker: any Invoker
    private let state = Mutex(State())
    private let restoredChunkCount = Atomic(0)
    private let helpersAssignedCount = Atomic(0)
    private let helperReadCount = Atomic(0)
    private let invocations: AsyncStream<InvocationEvent>
    private let invocationQueue: AsyncStream<InvocationEvent>.Continuation
    private let restoredNodes: AsyncStream<Int>.Continuation
    /// Nodes that came back empty, once they have restored their chunks from the COS: what the
    /// COS does not hold (parity, extra copies) they still lack, and the store rebuilds it.
    public let restoredNodeStream: AsyncStream<Int>

    public init(configuration: Configuration, invoker: any Invoker, persistence: PersistenceTracker? = nil) {
        self.configuration = configuration
        self.invoker = invoker
        self.persistence = persistence
        (invocations, invocationQueue) = AsyncStream.makeStream(of: InvocationEvent.self)
        (restoredNodeStream, restoredNodes) = AsyncStream.makeStream(of: Int.self)
    }

    /// Chunks nodes brought back from the COS after finding their memory gone, as their
    /// invocations reported.
    public var restoredChunks: Int { restoredChunkCount.load(ordering: .relaxed) }

    /// Helper nodes that took on a share of another node's restore.
    public var recoveryHelpersAssigned: Int { helpersAssignedCount.load(ordering: .relaxed) }

    /// Reads of a restoring node's chunks that its helpers answered.
    public var recoveryHelperReads: Int { helperReadCount.load(ordering: .relaxed) }

    /// The nodes as the data path uses them.
    public var chunkNodes: [any ChunkNode] {
        (0..<configuration.nodeCount).map { RemoteChunkNode(id: $0, pool: self) }
    }

    /// Where invoked nodes dial in; known once the node port is bound.
    public func setNodeAddress(_ address: String) {
        state.withLock { $0.nodeAddress = address }
    }

    /// Runs invocations until cancelled. Invocations in progress run to their end (nodes return
    /// once idle); requests that need a sleeping node fail from the moment of cancellation.
    public func run() async {
        await withDiscardingTaskGroup { group in
            defer { stop() }
            if let interval = configuration.warmupInterval {
                group.addTask { await self.warmUpSleepingNodes(every: interval) }
            }
            for await event in invocations {
                let invoker = self.invoker
                // A request waits no longer for its node to come up than for its reply.
                let timeout = min(configuration.activationTimeout, configuration.requestTimeout)
                group.addTask {
                    let outcome: Result<[UInt8], any Error>
                    do {
                        outcome = .success(try await invoker.invoke(nodeID: event.nodeID, event: event.encoded()))
                    } catch {
                        outcome = .failure(error)
                    }
                    self.invocationEnded(event, outcome)
                }
                guard event.command == .ping else { continue }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    self.failActivation(event, NodeUnavailable(node: event.nodeID, reason: "did not connect in time"))
                }
            }
        }
    }

    /// Invokes every node that neither has a link nor is being brought up with `warmup`, every
    /// `interval`, until cancelled. A node that is linked or coming up is not warmed: on AWS a
    /// second concurrent invocation would start a second sandbox.
    private func warmUpSleepingNodes(every interval: Duration) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            let events = state.withLock { state -> [InvocationEvent] in
                guard !state.isStopped, let nodeAddress = state.nodeAddress else { return [] }
                return (0..<configuration.nodeCount).filter { state.links[$0]?.isOpen != true && state.activations[$0] == nil }.map {
                    InvocationEvent(
                        nodeID: $0,
                        proxyAddress: nodeAddress,
                        session: InvocationEvent.randomSecret(),
                        token: InvocationEvent.randomSecret(),
                        command: .warmup
                    )
                }
            }
            for event in events { invocationQueue.yield(event) }
        }
    }

    /// Fails every activation in progress and every later one.
    private func stop() {
        let waiters = state.withLock { state in
            state.isStopped = true
            defer { state.activations.removeAll() }
            return state.activations.map { ($0.key, $0.value.waiters) }
        }
        for (node, nodeWaiters) in waiters {
            for waiter in nodeWaiters {
                waiter.continuation.resume(throwing: NodeUnavailable(node: node, reason: "the proxy is shutting down"))
            }
        }
    }

    /// An open link to `node`, invoking it first if it sleeps.
    func link(for node: Int) async throws -> NodeLink {
        let ready: Result<NodeLink, NodeUnavailable>? = state.withLock { state in
            if let link = state.links[node], link.isOpen { return .success(link) }
            return nil
        }
        if let ready { return try ready.get() }
        // A cancelled wait (a read that got its chunks elsewhere) leaves at once; the node still
        // comes up for whoever asks next.
        let waiterID = state.withLock { state in
            state.lastWaiterID += 1
            return state.lastWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let failure: (any Error)? = state.withLock { state in
                    if let link = state.links[node], link.isOpen {
                        continuation.resume(returning: link)
                        return nil
                    }
                    // Checked under the lock the cancellation handler takes too, so a wait is
                    // either never added or found and removed by it.
                    guard !Task.isCancelled else { return CancellationError() }
                    guard !state.isStopped else { return NodeUnavailable(node: node, reason: "the proxy is shutting down") }
                    if state.activations[node] == nil {
                        guard let nodeAddress = state.nodeAddress else {
                            return NodeUnavailable(node: node, reason: "the node port is not listening yet")
                        }
                        let activation = Activation(session: InvocationEvent.randomSecret(), token: InvocationEvent.randomSecret())
                        state.activations[node] = activation
                        invocationQueue.yield(
                            InvocationEvent(
                                nodeID: node,
                                proxyAddress: nodeAddress,
                                session: activation.session,
                                token: activation.token,
                                command: .ping,
                                writeBehindMilliseconds: Int(configuration.writeBehind / .milliseconds(1))
                            )
                        )
                    }
                    state.activations[node]?.waiters.append((waiterID, continuation))
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<NodeLink, any Error>? in
                guard let index = state.activations[node]?.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
                return state.activations[node]?.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Whether a dialing node presents the session and token of its pending invocation.
    func authenticate(node: Int, session: String, token: ByteBuffer) -> Bool {
        state.withLock { state in
            guard let activation = state.activations[node], activation.session == session else { return false }
            return NodeProtocol.secretsMatch(activation.token.utf8, token.readableBytesView)
        }
    }

    /// Makes an authenticated link the node's link and hands it to everyone waiting.
    func attach(_ link: NodeLink) {
        let waiters = state.withLock { state in
            state.links[link.nodeID] = link
            return state.activations.removeValue(forKey: link.nodeID)?.waiters ?? []
        }
        for waiter in waiters { waiter.continuation.resume(returning: link) }
    }

    /// Forgets a node's link once it has closed, unless a newer session replaced it already.
    /// A restore the node was running is over with it.
    func detach(node: Int, session: String) {
        let detached = state.withLock { state in
            guard state.links[node]?.session == session else { return false }
            state.links[node] = nil
            return true
        }
        if detached { endRecovery(of: node) }
    }

    private func invocationEnded(_ event: InvocationEvent, _ outcome: Result<[UInt8], any Error>) {
        let link = state.withLock { state -> NodeLink? in
            guard let link = state.links[event.nodeID], link.session == event.session else { return nil }
            state.links[event.nodeID] = nil
            return link
        }
        link?.close(reason: "the node returned")
        let announced = state.withLock { $0.restoresAnnounced.remove(event.nodeID) != nil }
        if case .success(let bytes) = outcome, let report = try? InvocationOutcome(decoding: bytes) {
            restoredChunkCount.add(report.restoredChunks, ordering: .relaxed)
            // A restore in an invocation that never linked (a warm-up) ends unannounced, and a
            // node whose memory held no chunk of the COS has nothing to restore at all.
            if report.restoredChunks > 0 || report.startedEmpty, !announced { restoredNodes.yield(event.nodeID) }
        }
        if case .failure(let error) = outcome {
            failActivation(event, NodeUnavailable(node: event.nodeID, reason: "\(error)"))
        } else {
            // It came up and found nothing to do in its first-request window (a proxy too busy
            // to use it in time): as routine as a node returning mid-request, and retried alike.
            failActivation(event, NodeLinkClosed(node: event.nodeID, reason: "returned without connecting", nodeReturned: true))
        }
    }

    private func failActivation(_ event: InvocationEvent, _ error: any Error) {
        let waiters = state.withLock { state -> [(id: Int, continuation: CheckedContinuation<NodeLink, any Error>)] in
            guard let activation = state.activations[event.nodeID], activation.session == event.session else { return [] }
            state.activations[event.nodeID] = nil
            return activation.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }
}

extension NodePool {
    /// A node's restore started or ended. A restore of at least ``Configuration/bytesPerRecoveryHelper``
    /// bytes gets helpers: other nodes, those linked first, each loading one hash partition of
    /// the node's chunks from the COS and answering reads of that partition meanwhile.
    func recoveryNotice(_ notice: RecoveryNotice, from node: Int) {
        switch notice {
        case .restored:
            endRecovery(of: node)
            state.withLock { _ = $0.restoresAnnounced.insert(node) }
            restoredNodes.yield(node)
        case .restoring(_, let bytes):
            endRecovery(of: node)
            let count = min(configuration.recoveryHelpers, configuration.nodeCount - 1, bytes / configuration.bytesPerRecoveryHelper)
            guard count > 0 else { return }
            let (id, helpers) = state.withLock { state in
                state.lastRecoveryID += 1
                state.recoveries[node] = Recovery(id: state.lastRecoveryID, partitions: count)
                let others = (1..<configuration.nodeCount).map { (node + $0) % configuration.nodeCount }
                let linked = others.filter { state.links[$0]?.isOpen == true }
                return (state.lastRecoveryID, Array((linked + others.filter { !linked.contains($0) }).prefix(count)))
            }
            for (partition, helper) in helpers.enumerated() {
                Task { await self.enlist(helper, partition: partition, of: count, helping: node, recovery: id) }
            }
        }
    }

    /// Asks `helper` to take `partition`, and routes reads to it once it has agreed, unless the
    /// restore ended meanwhile.
    private func enlist(_ helper: Int, partition: Int, of partitions: Int, helping node: Int, recovery: Int) async {
        let arguments = [node, partition, partitions].map { ByteBuffer(string: String($0)) }
        guard let link = try? await link(for: helper), let reply = try? await link.request(.help, arguments), reply.stringValue == "OK" else {
            return
        }
        let current = state.withLock { state in
            guard state.recoveries[node]?.id == recovery else { return false }
            state.recoveries[node]?.helpers[partition] = (helper, link.session)
            return true
        }
        if current {
            helpersAssignedCount.add(1, ordering: .relaxed)
        } else {
            _ = try? await link.request(.unhelp, [ByteBuffer(string: String(node))])
        }
    }

    /// Stops routing reads of `node`'s chunks to helpers and tells the helpers still linked to
    /// drop what they loaded for it.
    private func endRecovery(of node: Int) {
        let links = state.withLock { state -> [NodeLink] in
            guard let recovery = state.recoveries.removeValue(forKey: node) else { return [] }
            return recovery.helpers.values.compactMap { helper in
                state.links[helper.node].flatMap { $0.session == helper.session && $0.isOpen ? $0 : nil }
            }
        }
        for link in links {
            Task { _ = try? await link.request(.unhelp, [ByteBuffer(string: String(node))]) }
        }
    }

    /// The node's link if it is open now; nil if the node sleeps or is coming up.
    func openLink(for node: Int) -> NodeLink? {
        state.withLock { state in
            guard let link = state.links[node], link.isOpen else { return nil }
            return link
        }
    }

    /// The link of the helper serving `chunk` while `node` restores, if there is one.
    func helperLink(for node: Int, chunk: ChunkID) -> NodeLink? {
        state.withLock { state in
            guard let recovery = state.recoveries[node] else { return nil }
            let partition = NodeProtocol.helperPartition(ofChunk: chunk.description.utf8, partitions: recovery.partitions)
            guard let helper = recovery.helpers[partition], let link = state.links[helper.node], link.session == helper.session,
                link.isOpen
            else { return nil }
            return link
        }
    }

    func countHelperRead() {
        helperReadCount.add(1, ordering: .relaxed)
    }
}

/// The data path's view of one pooled node: each request goes over the node's current link,
/// invoking the node when it sleeps, and is retried on a fresh link if the link closed while the
/// request was on its way.
struct RemoteChunkNode: ChunkNode {
    let id: Int
    let pool: NodePool

    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws {
        var arguments = [ByteBuffer(string: chunk.description), bytes]
        if !persist { arguments.append(ByteBuffer(string: NodeProtocol.memoryOnly)) }
        let reply = try await request(.set, arguments)
        guard reply.stringValue == "OK" else { throw NodeUnavailable(node: id, reason: "refused a chunk: \(reply)") }
    }

    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer? {
        // While this node restores, its helper for the chunk's partition may have it already; a
        // helper without it (a chunk written since the restore began) leaves the read to the node.
        if let helper = pool.helperLink(for: id, chunk: chunk) {
            let reply = try? await helper.request(.get, [ByteBuffer(string: chunk.description), ByteBuffer(string: String(id))])
            try Task.checkCancellation()
            if let reply, !reply.isNull, !reply.isError, let bytes = reply.bufferValue {
                pool.countHelperRead()
                return bytes
            }
        }
        let reply = try await request(.get, [ByteBuffer(string: chunk.description)])
        if reply.isNull { return nil }
        guard let bytes = reply.bufferValue, !reply.isError else {
            throw NodeUnavailable(node: id, reason: "bad reply: \(reply)")
        }
        return bytes
    }

    func remove(_ chunks: [ChunkID]) async -> Set<ChunkID> {
        Self.chunkIDs(in: try? await request(.delete, Self.names(of: chunks)))
    }

    /// The chunks' wire names, as requests carry them.
    private static func names(of chunks: some Sequence<ChunkID>) -> [ByteBuffer] {
        chunks.map { ByteBuffer(string: $0.description) }
    }

    /// The chunk names in a reply that lists them; none for a failed request.
    private static func chunkIDs(in reply: RESPValue?) -> Set<ChunkID> {
        Set(reply?.arrayValue?.compactMap { $0.stringValue.flatMap(ChunkID.init) } ?? [])
    }

    /// Asks in batches, one request per ``ChunkCollector/batchLimit`` names, rather than
    /// fetching each chunk.
    func held(_ chunks: [ChunkID]) async -> Set<ChunkID> {
        var held = Set<ChunkID>()
        for batch in chunks.batches(of: ChunkCollector.batchLimit) {
            held.formUnion(Self.chunkIDs(in: try? await request(.has, Self.names(of: batch))))
        }
        return held
    }

    func flushWrites() async {
        // A node that sleeps wrote everything before it returned.
        guard let link = pool.openLink(for: id) else { return }
        _ = try? await link.request(.flush, [])
    }

    /// A node returning while a request is on its way is routine (it saw no request for its
    /// idle window, say while the proxy was busy), so such a request is sent again on a fresh
    /// link a few times; a link that broke is retried once.
    private func request(_ command: NodeProtocol.Command, _ arguments: [ByteBuffer]) async throws -> RESPValue {
        var attempt = 1
        while true {
            do {
                return try await pool.link(for: id).request(command, arguments)
            } catch let closed as NodeLinkClosed where attempt < (closed.nodeReturned ? 4 : 2) {
                attempt += 1
            }
        }
    }
}
