import InfiniCOS
import NIOCore
import Synchronization

/// Brings chunks back from the COS into a node's memory: on a read of a chunk the node does not
/// hold, and all at once when the node restores what its lineage says it held. Each chunk is
/// loaded once however many ask for it, so a read of a chunk being restored waits for that chunk
/// only. A chunk removed while it loads is not kept.
final class ChunkLoader: Sendable {
    private struct State {
        /// Chunks being loaded, with the readers waiting for each.
        var loading: [ByteBuffer: [CheckedContinuation<ByteBuffer?, Never>]] = [:]
        /// Chunks removed while a restore runs or while they load; chunk names are never reused,
        /// so none of them may come back.
        var removed: Set<ByteBuffer> = []
        var restoresRunning = 0
    }

    /// Chunks a restore loads at once.
    static let restoreConcurrency = 16

    private let memory: ChunkMemory
    private let persister: ChunkPersister
    private let state = Mutex(State())
    private let restoredCount = Atomic(0)

    init(memory: ChunkMemory, persister: ChunkPersister) {
        self.memory = memory
        self.persister = persister
    }

    /// Whether a restore is running: the node must not return (and be frozen) before it ends.
    var isRestoring: Bool { state.withLock { $0.restoresRunning > 0 } }

    /// Chunks restores have brought back so far.
    var restored: Int { restoredCount.load(ordering: .relaxed) }

    /// The chunk's bytes from memory, or else from the COS, kept in memory; nil when the COS has
    /// no such chunk (or cannot be reached).
    func load(_ name: ByteBuffer) async -> ByteBuffer? {
        if let held = memory.fetch(name) { return held }
        let isFirst = state.withLock { state in
            if state.loading[name] != nil { return false }
            state.loading[name] = []
            return true
        }
        guard isFirst else {
            return await withCheckedContinuation { continuation in
                let joined = state.withLock { state in
                    guard state.loading[name] != nil else { return false }
                    state.loading[name]?.append(continuation)
                    return true
                }
                if !joined { continuation.resume(returning: memory.fetch(name)) }
            }
        }
        var bytes: ByteBuffer?
        if let objectName = try? ChunkPersister.objectName(forChunk: String(buffer: name)) { bytes = await persister.load(objectName) }
        let waiters = state.withLock { state in
            let waiters = state.loading.removeValue(forKey: name) ?? []
            // Kept under the lock, so a removal is either seen here or comes after the store.
            let wasRemoved = state.restoresRunning > 0 ? state.removed.contains(name) : state.removed.remove(name) != nil
            if let bytes, !wasRemoved { memory.store(name, bytes) }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: bytes) }
        return bytes
    }

    /// Forgets chunks the proxy removed, here and in memory. Returns how many memory held.
    func remove(_ names: some Sequence<ByteBuffer>) -> Int {
        var count = 0
        state.withLock { state in
            for name in names {
                if state.restoresRunning > 0 || state.loading[name] != nil { state.removed.insert(name) }
                if memory.remove(name) { count += 1 }
            }
        }
        return count
    }

    /// Loads every chunk of `chunks` memory lacks, ``restoreConcurrency`` at a time, until done
    /// or cancelled. Returns how many came back.
    func restore(_ chunks: [String]) async -> Int {
        state.withLock { $0.restoresRunning += 1 }
        defer {
            state.withLock { state in
                state.restoresRunning -= 1
                if state.restoresRunning == 0 { state.removed = state.removed.filter { state.loading[$0] != nil } }
            }
        }
        let names = chunks.map { ByteBuffer(string: $0) }.filter { name in
            state.withLock { !$0.removed.contains(name) } && memory.fetch(name) == nil
        }
        let restored = Atomic(0)
        // `load` never throws, so neither does this.
        try? await forEachConcurrently(names, limit: Self.restoreConcurrency) { name in
            guard !Task.isCancelled, await self.load(name) != nil else { return }
            restored.add(1, ordering: .relaxed)
            self.restoredCount.add(1, ordering: .relaxed)
        }
        return restored.load(ordering: .relaxed)
    }
}
