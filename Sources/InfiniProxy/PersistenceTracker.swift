import NIOCore
import Synchronization

/// The chunks that are in node memory but not yet in the COS, with their bytes: until a node
/// reports a chunk persisted, the proxy keeps the bytes, so a node that dies first costs a
/// re-send, not the chunk. Writes acknowledged only once persisted (`--durability cos`) wait here.
public final class PersistenceTracker: Sendable {
    /// A chunk's write failed for good on its node.
    public struct PersistFailed: Error, CustomStringConvertible {
        public var node: Int
        public var chunk: ChunkID
        public var reason: String
        public var description: String { "memory node \(node) could not persist chunk \(chunk): \(reason)" }
    }

    private struct Pending {
        var node: Int
        var bytes: ByteBuffer
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }

    private struct State {
        var pending: [ChunkID: Pending] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())
    private let lostNodes: AsyncStream<Int>.Continuation
    /// Nodes that lost their link without returning: their unpersisted chunks must be re-sent.
    let lostNodeStream: AsyncStream<Int>

    public init() {
        (lostNodeStream, lostNodes) = AsyncStream.makeStream(of: Int.self)
    }

    /// Bytes kept for chunks not yet persisted.
    public var unpersistedBytes: Int { state.withLock { $0.bytes } }

    /// Chunks not yet persisted.
    public var unpersistedCount: Int { state.withLock { $0.pending.count } }

    /// Keeps `bytes` until `chunk`, stored on `node`, is persisted. Called before the chunk is sent.
    func track(_ chunk: ChunkID, node: Int, bytes: ByteBuffer) {
        state.withLock { state in
            if let old = state.pending.updateValue(Pending(node: node, bytes: bytes), forKey: chunk) {
                state.bytes -= old.bytes.readableBytes
            }
            state.bytes += bytes.readableBytes
        }
    }

    /// Whether `chunk` is still waiting to be persisted.
    func isPending(_ chunk: ChunkID) -> Bool {
        state.withLock { $0.pending[chunk] != nil }
    }

    /// A node reported the chunk durable.
    func persisted(_ chunk: ChunkID) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard let done = state.pending.removeValue(forKey: chunk) else { return [] }
            state.bytes -= done.bytes.readableBytes
            return done.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// A node gave up writing the chunk; writers waiting for it fail. The bytes are kept, so the
    /// chunk is written again if its node is lost.
    func failed(_ chunk: ChunkID, node: Int, reason: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard var entry = state.pending[chunk] else { return [] }
            defer { entry.waiters.removeAll(); state.pending[chunk] = entry }
            return entry.waiters
        }
        for waiter in waiters { waiter.resume(throwing: PersistFailed(node: node, chunk: chunk, reason: reason)) }
    }

    /// Stops tracking chunks of a version that was discarded; anyone waiting is released.
    func forget(_ chunks: some Sequence<ChunkID>) {
        let waiters = state.withLock { state in
            var waiters: [CheckedContinuation<Void, any Error>] = []
            for chunk in chunks {
                guard let entry = state.pending.removeValue(forKey: chunk) else { continue }
                state.bytes -= entry.bytes.readableBytes
                waiters += entry.waiters
            }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once every chunk in `chunks` is persisted.
    func waitUntilPersisted(_ chunks: [ChunkID]) async throws {
        for chunk in chunks {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let done = state.withLock { state in
                    guard state.pending[chunk] != nil else { return true }
                    state.pending[chunk]?.waiters.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    /// The node's link broke without the node returning: its memory may be gone.
    func nodeLost(_ node: Int) {
        lostNodes.yield(node)
    }

    /// The chunks on `node` that are not persisted yet, with their bytes.
    func unpersisted(on node: Int) -> [(ChunkID, ByteBuffer)] {
        state.withLock { state in
            state.pending.compactMap { chunk, entry in entry.node == node ? (chunk, entry.bytes) : nil }
        }
    }
}
