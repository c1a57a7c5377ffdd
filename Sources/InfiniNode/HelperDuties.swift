import InfiniCOS
import InfiniNodeProtocol
import NIOCore
import Synchronization

/// What a node does as a helper in another node's parallel recovery: for each node it helps, it
/// reads that node's lineage from the COS (never writing to it), loads the chunks of its own
/// hash partition into memory of their own, and answers the proxy's reads of the helped node's
/// chunks from there, loading any other chunk asked for on demand. It is a second downloader
/// beside the recovering node, with its own network bandwidth; the helped chunks are dropped
/// when the proxy ends the help or the stay ends.
final class HelperDuties: Sendable {
    private struct Duty {
        var memory: ChunkMemory
        var loader: ChunkLoader
        var loading: Task<Void, Never>
    }

    private let persister: ChunkPersister?
    private let log: @Sendable (String) -> Void
    private let duties = Mutex<[Int: Duty]>([:])

    init(persister: ChunkPersister?, log: @escaping @Sendable (String) -> Void) {
        self.persister = persister
        self.log = log
    }

    /// Whether some duty is still loading its partition.
    var isLoading: Bool { duties.withLock { $0.values.contains { $0.loader.isRestoring } } }

    /// Bytes held for helped nodes.
    var usedBytes: Int { duties.withLock { $0.values.reduce(0) { $0 + $1.memory.usedBytes } } }

    /// Starts helping `node`: loads the chunks of its lineage in `partition` of `partitions`.
    /// Returns false without a COS to load from.
    func start(helping node: Int, partition: Int, of partitions: Int) -> Bool {
        guard let persister else { return false }
        let memory = ChunkMemory()
        let loader = ChunkLoader(memory: memory, persister: persister)
        let log = self.log
        let loading = Task {
            do {
                let recovery = try await NodeLineage.read(node: node, storage: persister.storage)
                let share = recovery.chunks.keys.filter {
                    NodeProtocol.helperPartition(ofChunk: $0.utf8, partitions: partitions) == partition
                }
                let loaded = await loader.restore(share)
                log("helping node \(node): loaded \(loaded) of the \(share.count) chunks of partition \(partition) of \(partitions)")
            } catch {
                log("helping node \(node): cannot read its lineage: \(error)")
            }
        }
        let replaced = duties.withLock { $0.updateValue(Duty(memory: memory, loader: loader, loading: loading), forKey: node) }
        replaced?.loading.cancel()
        return true
    }

    /// A chunk of the helped `node`: from the helped chunks, or loaded from the COS and kept with
    /// them; nil when not helping `node` or the COS lacks it.
    func fetch(_ name: ByteBuffer, helping node: Int) async -> ByteBuffer? {
        guard let loader = duties.withLock({ $0[node]?.loader }) else { return nil }
        return await loader.load(name)
    }

    /// Stops helping `node`; returns how many helped chunks were dropped.
    @discardableResult
    func stop(helping node: Int) -> Int {
        guard let duty = duties.withLock({ $0.removeValue(forKey: node) }) else { return 0 }
        duty.loading.cancel()
        return duty.memory.count
    }

    /// Stops every duty: the stay is over.
    func stopAll() {
        let all = duties.withLock { duties in
            defer { duties.removeAll() }
            return duties.values
        }
        for duty in all { duty.loading.cancel() }
    }
}
