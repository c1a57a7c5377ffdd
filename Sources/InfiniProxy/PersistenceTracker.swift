import NIOCore
import Synchronization

/// The chunks that are in node memory but not yet in the COS, with their bytes: until a node
/// reports a chunk persisted, the proxy keeps the bytes, so a node that dies first costs a
/// re-send, not the chunk. Writes acknowledged only once persisted (`--durability cos`) wait here.
///
/// The bytes kept are bounded: a write whose chunks would take them past ``capacity`` waits
/// before its chunks are sent until enough are persisted, so a slow COS slows writers down
/// instead of growing the proxy without limit. A write waits at most its timeout, then fails.
public final class PersistenceTracker: Sendable {
    /// A write waited too long for the COS to catch up.
    public struct Backlogged: Error, CustomStringConvertible {
        public var unpersistedBytes: Int
        public var description: String {
            "the COS is behind: \(unpersistedBytes) bytes of chunks are waiting to be persisted"
        }
    }

    /// The default bound on kept bytes: one value of the default maximum length fits.
    public static let defaultCapacity = 512 << 20

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

    /// The most bytes kept for unpersisted chunks before writes wait.
    public var capacity: Int { room.capacity }
    /// The kept bytes: a write takes room for its chunks before they are sent and gives it back
    /// as they are persisted or forgotten.
    private let room: ByteBudget
    private let pending = Mutex<[ChunkID: Pending]>([:])
    private let lostNodes: AsyncStream<Int>.Continuation
    /// Nodes that lost their link without returning: their unpersisted chunks must be re-sent.
    let lostNodeStream: AsyncStream<Int>

    public init(capacity: Int = defaultCapacity) {
        room = ByteBudget(capacity: capacity)
        (lostNodeStream, lostNodes) = AsyncStream.makeStream(of: Int.self)
    }

    /// Bytes kept for chunks not yet persisted.
    public var unpersistedBytes: Int { room.reservedBytes }

    /// Chunks not yet persisted.
    public var unpersistedCount: Int { pending.withLock { $0.count } }

    /// Keeps each chunk's bytes until the chunk, stored on its node, is persisted; called before
    /// the chunks are sent. Waits while they would take the kept bytes past ``capacity`` (a
    /// single value larger than that still goes through alone), and throws ``Backlogged`` if
    /// that lasts longer than `timeout`.
    func track(_ chunks: [(ChunkID, node: Int, bytes: ByteBuffer)], timeout: Duration) async throws {
        let total = chunks.reduce(0) { $0 + $1.bytes.readableBytes }
        guard try await room.reserve(total, within: timeout) else { throw Backlogged(unpersistedBytes: unpersistedBytes) }
        let replaced = pending.withLock { pending in
            var replaced = 0
            for (chunk, node, bytes) in chunks {
                replaced += pending.updateValue(Pending(node: node, bytes: bytes), forKey: chunk)?.bytes.readableBytes ?? 0
            }
            return replaced
        }
        room.release(replaced)
    }

    /// Whether `chunk` is still waiting to be persisted.
    func isPending(_ chunk: ChunkID) -> Bool {
        pending.withLock { $0[chunk] != nil }
    }

    /// A node reported the chunk durable.
    func persisted(_ chunk: ChunkID) {
        guard let done = pending.withLock({ $0.removeValue(forKey: chunk) }) else { return }
        room.release(done.bytes.readableBytes)
        for waiter in done.waiters { waiter.resume() }
    }

    /// A node gave up writing the chunk; writers waiting for it fail. The bytes are kept, so the
    /// chunk is written again if its node is lost.
    func failed(_ chunk: ChunkID, node: Int, reason: String) {
        let waiters = pending.withLock { pending -> [CheckedContinuation<Void, any Error>] in
            guard var entry = pending[chunk] else { return [] }
            defer { entry.waiters.removeAll(); pending[chunk] = entry }
            return entry.waiters
        }
        for waiter in waiters { waiter.resume(throwing: PersistFailed(node: node, chunk: chunk, reason: reason)) }
    }

    /// Stops tracking chunks of a version that was discarded; anyone waiting is released.
    func forget(_ chunks: some Sequence<ChunkID>) {
        let (waiters, bytes) = pending.withLock { pending in
            var waiters: [CheckedContinuation<Void, any Error>] = []
            var bytes = 0
            for chunk in chunks {
                guard let entry = pending.removeValue(forKey: chunk) else { continue }
                bytes += entry.bytes.readableBytes
                waiters += entry.waiters
            }
            return (waiters, bytes)
        }
        room.release(bytes)
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once every chunk in `chunks` is persisted.
    func waitUntilPersisted(_ chunks: [ChunkID]) async throws {
        for chunk in chunks {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let done = pending.withLock { pending in
                    guard pending[chunk] != nil else { return true }
                    pending[chunk]?.waiters.append(continuation)
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
        pending.withLock { pending in
            pending.compactMap { chunk, entry in entry.node == node ? (chunk, entry.bytes) : nil }
        }
    }
}
