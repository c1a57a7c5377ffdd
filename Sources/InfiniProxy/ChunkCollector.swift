import Synchronization

/// Frees the chunks of superseded and deleted versions on their nodes, in the background and in
/// batches: one `CDEL` per node carries every chunk that node should drop, so a stream of
/// overwrites costs the nodes a request per batch, not one per chunk.
final class ChunkCollector: Sendable {
    /// Most chunk names in one request.
    static let batchLimit = 1024
    /// How long the collector waits after the first garbage arrives, to gather a batch.
    static let gatherDelay = Duration.milliseconds(5)

    private let nodes: [any ChunkNode]
    private let queued = Mutex<[Int: [ChunkID]]>([:])
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(nodes: [any ChunkNode]) {
        self.nodes = nodes
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues chunks to free, each with the index of the node that holds it.
    func collect(_ chunks: some Sequence<(nodeIndex: Int, chunk: ChunkID)>) {
        let wasEmpty = queued.withLock { queued in
            let wasEmpty = queued.isEmpty
            for (nodeIndex, chunk) in chunks { queued[nodeIndex, default: []].append(chunk) }
            return wasEmpty
        }
        if wasEmpty { wake.yield() }
    }

    /// Chunks waiting to be freed.
    var backlog: Int { queued.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Frees queued chunks as they come, until cancelled.
    func run() async {
        for await _ in wakeups {
            try? await Task.sleep(for: Self.gatherDelay)
            await drain()
        }
    }

    /// Sends everything queued now, one batch per node at a time, all nodes in parallel.
    func drain() async {
        let batches = queued.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        await withTaskGroup(of: Void.self) { group in
            for (nodeIndex, chunks) in batches {
                let node = nodes[nodeIndex]
                group.addTask {
                    var start = 0
                    while start < chunks.count {
                        let end = min(start + Self.batchLimit, chunks.count)
                        await node.remove(Array(chunks[start..<end]))
                        start = end
                    }
                }
            }
        }
    }
}
