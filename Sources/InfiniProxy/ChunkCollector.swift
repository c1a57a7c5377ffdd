import InfiniCOS
import Synchronization

/// Frees the chunks of superseded and deleted versions on their nodes and in the COS, in the
/// background and in batches: one `CDEL` per node carries every chunk that node should drop, so
/// a stream of overwrites costs the nodes a request per batch, not one per chunk.
///
/// A chunk leaves the COS only after its node has been told to drop it: the node then cancels a
/// write still queued or removes one that was running, so no write lands after the delete. A
/// chunk whose queued write the node cancelled was never written and is not deleted.
final class ChunkCollector: Sendable {
    /// Most chunk names in one request.
    static let batchLimit = 1024
    /// How long the collector waits after the first garbage arrives, to gather a batch.
    static let gatherDelay = Duration.milliseconds(5)

    private let nodes: [any ChunkNode]
    private let storage: (any ObjectStorage)?
    private let persistence: PersistenceTracker?
    /// Per node index, the chunks to free there and whether each is in the COS too.
    private let queued = Mutex<[Int: [(chunk: ChunkID, inStorage: Bool)]]>([:])
    private let unwritten = Atomic(0)
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(nodes: [any ChunkNode], storage: (any ObjectStorage)?, persistence: PersistenceTracker?) {
        self.nodes = nodes
        self.storage = storage
        self.persistence = persistence
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues chunks to free, each with the index of the node that holds it and whether it was
    /// written to the COS.
    func collect(_ chunks: [(nodeIndex: Int, chunk: ChunkID, inStorage: Bool)]) {
        persistence?.forget(chunks.lazy.map(\.chunk))
        let wasEmpty = queued.withLock { queued in
            let wasEmpty = queued.isEmpty
            for (nodeIndex, chunk, inStorage) in chunks { queued[nodeIndex, default: []].append((chunk, inStorage)) }
            return wasEmpty
        }
        if wasEmpty { wake.yield() }
    }

    /// Chunks freed so far whose COS write their node dropped before it began.
    var unwrittenCount: Int { unwritten.load(ordering: .relaxed) }

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
                    for batch in chunks.batches(of: Self.batchLimit) {
                        let unwritten = await node.remove(batch.map(\.chunk))
                        self.unwritten.add(unwritten.count, ordering: .relaxed)
                        await self.deleteFromStorage(batch.filter { $0.inStorage && !unwritten.contains($0.chunk) }.map(\.chunk))
                    }
                }
            }
        }
    }

    func deleteFromStorage(_ chunks: [ChunkID]) async {
        guard let storage, let names = try? chunks.map({ try $0.storageName }) else { return }
        try? await storage.delete(names)
    }
}
