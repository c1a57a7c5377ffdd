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

    /// A write waiting for room, with the chunks it will keep.
    private struct Admission {
        var id: Int
        var chunks: [(ChunkID, node: Int, bytes: ByteBuffer)]
        var bytes: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [ChunkID: Pending] = [:]
        var bytes = 0
        var admissions: [Admission] = []
        var lastAdmissionID = 0

        /// Whether `more` bytes may be kept now: always into an empty tracker, so a single
        /// value larger than the capacity still goes through.
        func hasRoom(for more: Int, capacity: Int) -> Bool { bytes == 0 || bytes + more <= capacity }

        mutating func keep(_ chunks: [(ChunkID, node: Int, bytes: ByteBuffer)]) {
            for (chunk, node, bytes) in chunks {
                if let old = pending.updateValue(Pending(node: node, bytes: bytes), forKey: chunk) {
                    self.bytes -= old.bytes.readableBytes
                }
                self.bytes += bytes.readableBytes
            }
        }

        /// Keeps `chunks` now if nobody waits before them and they fit.
        mutating func keepIfRoom(_ chunks: [(ChunkID, node: Int, bytes: ByteBuffer)], bytes more: Int, capacity: Int) -> Bool {
            guard admissions.isEmpty, hasRoom(for: more, capacity: capacity) else { return false }
            keep(chunks)
            return true
        }

        /// Admits waiting writes in order while they fit.
        mutating func admitWaiting(capacity: Int) -> [CheckedContinuation<Void, any Error>] {
            var admitted: [CheckedContinuation<Void, any Error>] = []
            while let first = admissions.first, hasRoom(for: first.bytes, capacity: capacity) {
                admissions.removeFirst()
                keep(first.chunks)
                admitted.append(first.continuation)
            }
            return admitted
        }
    }

    /// The most bytes kept for unpersisted chunks before writes wait.
    public let capacity: Int
    private let state = Mutex(State())
    private let lostNodes: AsyncStream<Int>.Continuation
    /// Nodes that lost their link without returning: their unpersisted chunks must be re-sent.
    let lostNodeStream: AsyncStream<Int>

    public init(capacity: Int = defaultCapacity) {
        self.capacity = capacity
        (lostNodeStream, lostNodes) = AsyncStream.makeStream(of: Int.self)
    }

    /// Bytes kept for chunks not yet persisted.
    public var unpersistedBytes: Int { state.withLock { $0.bytes } }

    /// Chunks not yet persisted.
    public var unpersistedCount: Int { state.withLock { $0.pending.count } }

    /// Keeps each chunk's bytes until the chunk, stored on its node, is persisted; called before
    /// the chunks are sent. Waits while they would take the kept bytes past ``capacity``, and
    /// throws ``Backlogged`` if that lasts longer than `timeout`.
    func track(_ chunks: [(ChunkID, node: Int, bytes: ByteBuffer)], timeout: Duration) async throws {
        let total = chunks.reduce(0) { $0 + $1.bytes.readableBytes }
        if state.withLock({ $0.keepIfRoom(chunks, bytes: total, capacity: capacity) }) { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.waitForRoom(chunks, bytes: total) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Backlogged(unpersistedBytes: self.unpersistedBytes)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Queues a write for room; a cancelled wait leaves the queue.
    private func waitForRoom(_ chunks: [(ChunkID, node: Int, bytes: ByteBuffer)], bytes: Int) async throws {
        let id = state.withLock { state in
            state.lastAdmissionID += 1
            return state.lastAdmissionID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    // Checked under the lock the cancellation handler takes too.
                    guard !Task.isCancelled else { return .failure(CancellationError()) }
                    if state.keepIfRoom(chunks, bytes: bytes, capacity: capacity) { return .success(()) }
                    state.admissions.append(Admission(id: id, chunks: chunks, bytes: bytes, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            // Writes queued behind this one may fit once it leaves.
            let (waiting, admitted) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, [CheckedContinuation<Void, any Error>]) in
                guard let index = state.admissions.firstIndex(where: { $0.id == id }) else { return (nil, []) }
                let waiting = state.admissions.remove(at: index).continuation
                return (waiting, state.admitWaiting(capacity: capacity))
            }
            waiting?.resume(throwing: CancellationError())
            for other in admitted { other.resume() }
        }
    }

    /// Whether `chunk` is still waiting to be persisted.
    func isPending(_ chunk: ChunkID) -> Bool {
        state.withLock { $0.pending[chunk] != nil }
    }

    /// A node reported the chunk durable.
    func persisted(_ chunk: ChunkID) {
        let (waiters, admitted) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], [CheckedContinuation<Void, any Error>]) in
            guard let done = state.pending.removeValue(forKey: chunk) else { return ([], []) }
            state.bytes -= done.bytes.readableBytes
            return (done.waiters, state.admitWaiting(capacity: capacity))
        }
        for waiter in waiters + admitted { waiter.resume() }
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
            return waiters + state.admitWaiting(capacity: capacity)
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
