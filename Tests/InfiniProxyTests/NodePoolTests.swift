import InfiniProxy
import Testing

@Suite(.timeLimit(.minutes(1))) struct NodePoolTests {
    /// Nodes that never dial in: each invocation lasts until it is cancelled.
    struct SilentInvoker: Invoker {
        func invoke(nodeID: Int, event: [UInt8]) async throws -> [UInt8] {
            try await Task.sleep(for: .seconds(60))
            return []
        }
    }

    /// A proxy shutting down stops invoking nodes; a request that waited for a sleeping node's
    /// link (the background chunk collector's, say) must fail then rather than wait forever and
    /// keep the proxy from exiting.
    @Test func requestsForASleepingNodeFailOnceThePoolStops() async throws {
        let pool = NodePool(configuration: .init(nodeCount: 2, activationTimeout: .seconds(60)), invoker: SilentInvoker())
        pool.setNodeAddress("127.0.0.1:1")
        let running = Task { await pool.run() }
        let chunk = ChunkID(version: 1, stripe: 0, shard: 0)
        let nodes = pool.chunkNodes
        let waiting = Task { try await nodes[0].fetch(chunk) }
        try await Task.sleep(for: .milliseconds(200))
        running.cancel()
        // Failed by the stop, or by its own invocation's cancellation if that came first.
        await #expect(throws: NodeUnavailable.self) { try await waiting.value }
        let later = await #expect(throws: NodeUnavailable.self) { try await nodes[1].fetch(chunk) }
        #expect(later?.reason == "the proxy is shutting down")
        await running.value
    }

    /// A read that got its chunks from other nodes cancels the rest of its requests; one still
    /// waiting for a sleeping node to come up leaves at once instead of holding the read.
    @Test func aCancelledRequestStopsWaitingForASleepingNode() async throws {
        let pool = NodePool(configuration: .init(nodeCount: 1, activationTimeout: .seconds(60)), invoker: SilentInvoker())
        pool.setNodeAddress("127.0.0.1:1")
        let running = Task { await pool.run() }
        let nodes = pool.chunkNodes
        let waiting = Task { try await nodes[0].fetch(ChunkID(version: 1, stripe: 0, shard: 0)) }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let early = Task { try await nodes[0].fetch(ChunkID(version: 1, stripe: 0, shard: 1)) }
        early.cancel()
        await #expect(throws: CancellationError.self) { try await early.value }
        running.cancel()
        await running.value
    }
}
