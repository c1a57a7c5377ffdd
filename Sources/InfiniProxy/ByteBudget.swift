import Synchronization

/// Bytes shared by many holders and handed out first come, first served: a holder asking for
/// more than is free waits until others give theirs back. Asking into an empty budget always
/// succeeds, so a request larger than the whole budget waits for the others, not forever.
///
/// A holder must not wait for more while it holds some (two holders each waiting for the
/// other's bytes would wait for good); ``take(_:)`` is for growing a holding without waiting.
final class ByteBudget: Sendable {
    private struct Waiter {
        var id: Int
        var bytes: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var reserved = 0
        var peak = 0
        var waits = 0
        var waiters: [Waiter] = []
        var lastWaiterID = 0

        func fits(_ bytes: Int, capacity: Int) -> Bool { reserved == 0 || reserved + bytes <= capacity }

        mutating func take(_ bytes: Int) {
            reserved += bytes
            peak = max(peak, reserved)
        }

        /// Lets waiters in, in order, while they fit.
        mutating func admitWaiting(capacity: Int) -> [CheckedContinuation<Void, any Error>] {
            var admitted: [CheckedContinuation<Void, any Error>] = []
            while let first = waiters.first, fits(first.bytes, capacity: capacity) {
                waiters.removeFirst()
                take(first.bytes)
                admitted.append(first.continuation)
            }
            return admitted
        }
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity >= 1, "a byte budget needs at least one byte")
        self.capacity = capacity
    }

    /// Bytes held now.
    var reservedBytes: Int { state.withLock { $0.reserved } }
    /// The most bytes held at once so far.
    var peakBytes: Int { state.withLock { $0.peak } }
    /// How many reservations had to wait.
    var waitCount: Int { state.withLock { $0.waits } }

    /// Takes `bytes` if they fit now and nobody waits before them; returns whether it did.
    func reserveNow(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard state.waiters.isEmpty, state.fits(bytes, capacity: capacity) else { return false }
            state.take(bytes)
            return true
        }
    }

    /// Takes `bytes`, waiting while they do not fit or others wait before them. A cancelled
    /// wait throws `CancellationError` and takes nothing.
    func reserve(_ bytes: Int) async throws {
        if reserveNow(bytes) { return }
        let id = state.withLock { state in
            state.waits += 1
            state.lastWaiterID += 1
            return state.lastWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state in
                    // Checked under the lock the cancellation handler takes too.
                    guard !Task.isCancelled else { return true }
                    state.waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
                    return false
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                // Holders may have given bytes back between the first look and now.
                for admitted in state.withLock({ $0.admitWaiting(capacity: capacity) }) { admitted.resume() }
            }
        } onCancel: {
            // Waiters behind this one may fit once it leaves.
            let (waiting, admitted) = state.withLock { state -> (CheckedContinuation<Void, any Error>?, [CheckedContinuation<Void, any Error>]) in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return (nil, []) }
                let waiting = state.waiters.remove(at: index).continuation
                return (waiting, state.admitWaiting(capacity: capacity))
            }
            waiting?.resume(throwing: CancellationError())
            for continuation in admitted { continuation.resume() }
        }
    }

    /// ``reserve(_:)``, giving up after `timeout`. Returns whether the bytes were taken.
    func reserve(_ bytes: Int, within timeout: Duration) async throws -> Bool {
        if reserveNow(bytes) { return true }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await self.reserve(bytes)
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let reserved = try await group.next() ?? false
            group.cancelAll()
            if reserved { return true }
            // The reservation may have gone through just as the time ran out.
            while let late = try? await group.next() {
                if late { release(bytes) }
            }
            return false
        }
    }

    /// Takes `bytes` at once, even past the capacity: for a holder growing what it holds.
    func take(_ bytes: Int) {
        state.withLock { $0.take(bytes) }
    }

    /// Bytes of a budget, given back when the hold goes away: a value keeps its hold for as
    /// long as any reply still carries it.
    final class Hold: Sendable {
        let budget: ByteBudget
        let bytes: Int

        fileprivate init(budget: ByteBudget, bytes: Int) {
            self.budget = budget
            self.bytes = bytes
        }

        deinit { budget.release(bytes) }
    }

    /// Holds `bytes` until the returned hold goes away: reserved if `waiting`, else taken at once.
    func hold(_ bytes: Int, waiting: Bool) async throws -> Hold {
        if waiting { try await reserve(bytes) } else { take(bytes) }
        return Hold(budget: self, bytes: bytes)
    }

    /// Gives back `bytes` taken before, and lets in the waiters that now fit.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let admitted = state.withLock { state in
            state.reserved -= bytes
            return state.admitWaiting(capacity: capacity)
        }
        for continuation in admitted { continuation.resume() }
    }
}
