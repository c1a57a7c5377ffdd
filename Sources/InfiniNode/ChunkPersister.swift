public import InfiniCOS
import InfiniNodeProtocol
public import NIOCore
import Synchronization

/// Writes a node's chunks through to the COS, several at a time, and reports each one once it is
/// durable. A chunk deleted before its write started is never written; one deleted while its
/// write is running is removed from the COS right after.
///
/// Writes can be held back for a short while (``writeBehind``): a chunk superseded within it (a
/// hot key overwritten) is then never written, which spares the COS a put and a delete. The
/// proxy holds a chunk's bytes until it is persisted, so holding it back costs no durability;
/// a node about to return or stop writes everything at once (``expedite()``).
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
    /// How much later than its due time a held-back write may start, so one wake-up starts
    /// every write that fell due within it rather than one each.
    static let dueSlack = Duration.milliseconds(5)

    private struct Job {
        var name: ObjectName
        var bytes: ByteBuffer
        var due: ContinuousClock.Instant
        var completion: @Sendable (Outcome) -> Void
    }

    private struct State {
        var queue: [Job] = []
        var queueHead = 0
        var running = 0
        /// Whether a worker is asleep until the first queued write falls due.
        var waitingForDue = false
        /// Whether queued writes start now, due or not, until the queue empties.
        var expedited = false
        var writeBehind = Duration.zero
        var inFlight: Set<ObjectName> = []
        var deletedInFlight: Set<ObjectName> = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var queued: Int { queue.count - queueHead }
        var backlog: Int { queued + inFlight.count }
    }

    /// What a worker does next.
    private enum Step {
        case write(Job)
        case sleep(until: ContinuousClock.Instant)
        case stop
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

    /// How long a write waits before it starts, for a delete to make it unnecessary; zero
    /// starts every write at once. Applies to writes queued from now on.
    public var writeBehind: Duration {
        get { state.withLock { $0.writeBehind } }
        set { state.withLock { $0.writeBehind = max(newValue, .zero) } }
    }

    /// Queues `bytes` to be written as `name`; `completion` runs once it is durable or has failed.
    public func persist(_ name: ObjectName, bytes: ByteBuffer, completion: @escaping @Sendable (Outcome) -> Void) {
        let now = ContinuousClock.now
        let startWorker = state.withLock { state in
            state.queue.append(Job(name: name, bytes: bytes, due: now + state.writeBehind, completion: completion))
            guard state.running < concurrency, state.writeBehind == .zero || !state.waitingForDue else { return false }
            state.running += 1
            return true
        }
        if startWorker { startWorkers(1) }
    }

    /// Starts queued writes now, due or not, until the queue has emptied.
    public func expedite() {
        let workers = state.withLock { state in
            guard state.queued > 0 else { return 0 }
            state.expedited = true
            let workers = min(concurrency - state.running, state.queued)
            state.running += workers
            return workers
        }
        startWorkers(workers)
    }

    /// A chunk's bytes from the COS, or nil if it is not there (or the COS cannot be reached).
    public func load(_ name: ObjectName) async -> ByteBuffer? {
        try? await storage.get(name)
    }

    /// Drops queued writes of `names`, and removes those being written once their write ends.
    /// Objects already written are the proxy's to delete.
    ///
    /// - Returns: The names whose write was dropped before it began: this node never put them
    ///   in the COS.
    @discardableResult
    public func cancel(_ names: some Sequence<ObjectName>) -> Set<ObjectName> {
        state.withLock { state in
            let cancelled = Set(names)
            var dropped = Set<ObjectName>()
            state.queue.removeSubrange(state.queue.startIndex..<state.queueHead)
            state.queueHead = 0
            state.queue.removeAll { job in
                guard cancelled.contains(job.name) else { return false }
                dropped.insert(job.name)
                return true
            }
            state.deletedInFlight.formUnion(cancelled.intersection(state.inFlight))
            return dropped
        }
    }

    /// Writes everything queued now and returns once nothing is queued or being written.
    public func waitUntilIdle() async {
        expedite()
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
        while true {
            switch nextStep() {
            case .write(let job):
                let outcome = await write(job)
                // Reported while the write still counts in the backlog, so whoever waits for
                // idle (a stopping node closing its lineage term) sees what the completion records.
                job.completion(outcome)
                let deleted = state.withLock { state in
                    state.inFlight.remove(job.name)
                    return state.deletedInFlight.remove(job.name) != nil
                }
                if deleted { try? await storage.delete(job.name) }
            case .sleep(let instant):
                try? await Task.sleep(until: instant, clock: .continuous)
                wakeHelpers()
            case .stop:
                return
            }
        }
    }

    /// After a sleep, starts as many more workers as there are writes due, so writes that fell
    /// due together run side by side.
    private func wakeHelpers() {
        let now = ContinuousClock.now
        let workers = state.withLock { state in
            state.waitingForDue = false
            var due = 0
            var index = state.queueHead
            while index < state.queue.count, state.queue[index].due <= now, due < concurrency {
                due += 1
                index += 1
            }
            let workers = min(concurrency - state.running, max(due - 1, 0))
            state.running += workers
            return workers
        }
        startWorkers(workers)
    }

    /// Starts `count` workers, already counted in `running`.
    private func startWorkers(_ count: Int) {
        for _ in 0..<count { Task { await self.work() } }
    }

    private func nextStep() -> Step {
        let now = ContinuousClock.now
        let (step, waiters): (Step, [CheckedContinuation<Void, Never>]) = state.withLock { state in
            guard state.queueHead < state.queue.count else {
                state.running -= 1
                state.expedited = false
                state.queue.removeAll(keepingCapacity: true)
                state.queueHead = 0
                guard state.backlog == 0 else { return (.stop, []) }
                defer { state.idleWaiters.removeAll() }
                return (.stop, state.idleWaiters)
            }
            let job = state.queue[state.queueHead]
            guard state.expedited || job.due <= now else {
                // One worker sleeps until the first write is due; the others stop.
                if state.waitingForDue {
                    state.running -= 1
                    return (.stop, [])
                }
                state.waitingForDue = true
                return (.sleep(until: job.due + Self.dueSlack), [])
            }
            state.queueHead += 1
            state.inFlight.insert(job.name)
            return (.write(job), [])
        }
        for waiter in waiters { waiter.resume() }
        return step
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
