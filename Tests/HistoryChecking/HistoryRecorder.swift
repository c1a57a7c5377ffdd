import Synchronization

/// Collects the operations of concurrent clients, timed on one monotonic clock.
///
/// Call ``invoke(client:key:kind:)`` just before sending a request and ``complete(_:_:)`` once
/// its outcome is known. An operation never completed (its client was cancelled or gave up)
/// appears in ``history()`` with an ``Operation/Outcome/unknown`` outcome, as it should: it may
/// still take effect.
public final class HistoryRecorder: Sendable {
    /// Names an invoked operation so its outcome can be recorded later.
    public struct Ticket: Hashable, Sendable {
        fileprivate let index: Int
    }

    private struct State {
        var operations: [Operation] = []
        var completed: [Bool] = []
    }

    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    private let state = Mutex(State())

    public init() {
        self.origin = self.clock.now
    }

    /// Nanoseconds since the recorder was made.
    public func now() -> UInt64 {
        let elapsed = (self.clock.now - self.origin).components
        return UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
    }

    /// Records that `client` is about to send an operation, timed now.
    public func invoke(client: Int, key: BinaryString, kind: Operation.Kind) -> Ticket {
        self.state.withLock { state in
            // Timed under the lock, so the array stays in invocation order.
            let time = self.now()
            state.operations.append(
                Operation(client: client, key: key, kind: kind, invocation: time, response: time, outcome: .unknown)
            )
            state.completed.append(false)
            return Ticket(index: state.operations.count - 1)
        }
    }

    /// Records the outcome of an invoked operation, timed now. Only the first outcome counts.
    public func complete(_ ticket: Ticket, _ outcome: Operation.Outcome) {
        let time = self.now()
        self.state.withLock { state in
            guard !state.completed[ticket.index] else { return }
            state.completed[ticket.index] = true
            state.operations[ticket.index].response = time
            state.operations[ticket.index].outcome = outcome
        }
    }

    /// Every operation so far, in invocation order; those still in flight are unknown, with a
    /// response time of now.
    public func history() -> [Operation] {
        let time = self.now()
        return self.state.withLock { state in
            zip(state.operations, state.completed).map { operation, completed in
                guard !completed else { return operation }
                var pending = operation
                pending.response = time
                return pending
            }
        }
    }
}
