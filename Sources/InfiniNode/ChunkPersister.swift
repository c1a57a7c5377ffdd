public import InfiniCOS
import InfiniNodeProtocol
public import NIOCore
import Synchronization

/// Writes a node's chunks through to the COS, several at a time, and reports each one once it is
/// durable. A chunk deleted before its write started is never written; one deleted while its
/// write is running is removed from the COS right after.
///
/// Chunk names are immutable (a name is never written twice with different bytes), so writes of
/// different chunks need no order among themselves.
public final class ChunkPersister: Sendable {
    /// What became of one chunk's write.
    public enum Outcome: Sendable, Equatable {
        case persisted
        case failed(String)
    }

    /// Most COS writes in flight at once.
    public static let defaultConcurrency = 16
    /// Attempts per chunk before its write is reported failed.
    static let attempts = 5

    private struct Job {
        var name: ObjectName
        var bytes: ByteBuffer
        var completion: @Sendable (Outcome) -> Void
    }

    private struct State {
        var queue: [Job] = []
        var queueHead = 0
        var running = 0
        var inFlight: Set<ObjectName> = []
        var deletedInFlight: Set<ObjectName> = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var backlog: Int { queue.count - queueHead + inFlight.count }
    }

    let storage: any ObjectStorage
    private let concurrency: Int
    private let state = Mutex(State())

    public init(storage: any ObjectStorage, concurrency: Int = defaultConcurrency) {
        self.storage = storage
        self.concurrency = concurrency
    }

    /// The COS object that holds a chunk of the given name.
    public static func objectName(forChunk chunk: String) throws -> ObjectName {
        guard let name = NodeProtocol.storageName(ofChunk: chunk) else {
            throw ObjectStorageError(.invalidName, "invalid chunk name '\(chunk.prefix(80))'")
        }
        return try ObjectName(name)
    }

    /// Chunks queued or being written.
    public var backlog: Int { state.withLock { $0.backlog } }

    /// Queues `bytes` to be written as `name`; `completion` runs once it is durable or has failed.
    public func persist(_ name: ObjectName, bytes: ByteBuffer, completion: @escaping @Sendable (Outcome) -> Void) {
        let startWorker = state.withLock { state in
            state.queue.append(Job(name: name, bytes: bytes, completion: completion))
            guard state.running < concurrency else { return false }
            state.running += 1
            return true
        }
        if startWorker { Task { await self.work() } }
    }

    /// A chunk's bytes from the COS, or nil if it is not there (or the COS cannot be reached).
    public func load(_ name: ObjectName) async -> ByteBuffer? {
        try? await storage.get(name)
    }

    /// Drops queued writes of `names`, and removes those being written once their write ends.
    /// Objects already written are the proxy's to delete.
    public func cancel(_ names: some Sequence<ObjectName>) {
        state.withLock { state in
            let cancelled = Set(names)
            state.queue.removeSubrange(state.queue.startIndex..<state.queueHead)
            state.queueHead = 0
            state.queue.removeAll { cancelled.contains($0.name) }
            state.deletedInFlight.formUnion(cancelled.intersection(state.inFlight))
        }
    }

    /// Returns once nothing is queued or being written.
    public func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.backlog == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func work() async {
        while let job = nextJob() {
            let outcome = await write(job)
            let deleted = state.withLock { state in
                state.inFlight.remove(job.name)
                return state.deletedInFlight.remove(job.name) != nil
            }
            if deleted { try? await storage.delete(job.name) }
            job.completion(outcome)
        }
    }

    private func nextJob() -> Job? {
        let (job, waiters): (Job?, [CheckedContinuation<Void, Never>]) = state.withLock { state in
            guard state.queueHead < state.queue.count else {
                state.running -= 1
                state.queue.removeAll(keepingCapacity: true)
                state.queueHead = 0
                guard state.backlog == 0 else { return (nil, []) }
                defer { state.idleWaiters.removeAll() }
                return (nil, state.idleWaiters)
            }
            let job = state.queue[state.queueHead]
            state.queueHead += 1
            state.inFlight.insert(job.name)
            return (job, [])
        }
        for waiter in waiters { waiter.resume() }
        return job
    }

    private func write(_ job: Job) async -> Outcome {
        var delay = Duration.milliseconds(50)
        var lastError = ""
        for _ in 0..<Self.attempts {
            do {
                try await storage.put(job.name, bytes: job.bytes)
                return .persisted
            } catch {
                lastError = "\(error)"
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        return .failed(lastError)
    }
}
