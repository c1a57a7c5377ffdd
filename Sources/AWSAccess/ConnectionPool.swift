import NIOCore
import NIOSSL
import Synchronization

/// Keep-alive connections to one endpoint, at most `maxConnections` open at once. A caller
/// leases a connection, uses it for one request, and releases it; callers beyond the bound
/// wait in arrival order (cancellable) until a connection or a free slot is handed to them.
final class ConnectionPool: Sendable {
    private struct Waiter {
        var id: Int
        /// Resumed with a connection to reuse, or nil to say a slot was reserved for the
        /// waiter to connect itself.
        var continuation: CheckedContinuation<HTTPConnection?, any Error>
    }

    private struct State {
        var idle: [HTTPConnection] = []
        /// Idle, leased and connecting connections together.
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var isShutDown = false
    }

    private enum Step {
        case use(HTTPConnection)
        case connect
        case wait(id: Int)
    }

    let endpoint: AWSEndpoint
    private let maxConnections: Int
    private let limits: HTTPLimits
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    init(
        endpoint: AWSEndpoint,
        maxConnections: Int,
        limits: HTTPLimits,
        tls: NIOSSLContext?,
        group: any EventLoopGroup
    ) {
        self.endpoint = endpoint
        self.maxConnections = max(1, maxConnections)
        self.limits = limits
        self.tls = tls
        self.group = group
    }

    deinit {
        self.state.withLock { state in
            for connection in state.idle { connection.close() }
        }
    }

    /// A connection for exactly one request; pass it back to ``release(_:reusable:)``.
    func lease() async throws -> HTTPConnection {
        while true {
            let step = try self.state.withLock { state throws(AWSError) -> Step in
                guard !state.isShutDown else { throw AWSError(.connectionFailed, "the client was shut down") }
                while let connection = state.idle.popLast() {
                    if connection.isActive { return .use(connection) }
                    state.open -= 1
                }
                if state.open < self.maxConnections {
                    state.open += 1
                    return .connect
                }
                state.nextWaiterID += 1
                return .wait(id: state.nextWaiterID)
            }
            switch step {
            case .use(let connection):
                return connection
            case .connect:
                return try await self.connectInReservedSlot()
            case .wait(let id):
                guard let connection = try await self.waitForTurn(id: id) else {
                    return try await self.connectInReservedSlot()
                }
                if connection.isActive { return connection }
                self.release(connection, reusable: false)
            }
        }
    }

    /// Returns a leased connection: kept for the next caller when `reusable`, closed otherwise.
    func release(_ connection: HTTPConnection, reusable: Bool) {
        let keep = reusable && connection.isActive
        if !keep { connection.close() }
        let waiter = self.state.withLock { state -> Waiter? in
            if state.isShutDown {
                if keep { connection.close() }
                state.open -= 1
                return nil
            }
            guard !state.waiters.isEmpty else {
                if keep { state.idle.append(connection) } else { state.open -= 1 }
                return nil
            }
            // A closed connection's slot passes to the waiter, which then connects.
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: keep ? connection : nil)
    }

    /// Closes idle connections and fails waiting and later leases.
    func shutdown() {
        let (idle, waiters) = self.state.withLock { state in
            state.isShutDown = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for connection in idle { connection.close() }
        for waiter in waiters {
            waiter.continuation.resume(throwing: AWSError(.connectionFailed, "the client was shut down"))
        }
    }

    private func connectInReservedSlot() async throws -> HTTPConnection {
        do {
            return try await HTTPConnection.connect(to: self.endpoint, tls: self.tls, limits: self.limits, group: self.group)
        } catch {
            self.giveUpSlot()
            throw error
        }
    }

    /// A reserved slot that produced no connection goes to the next waiter, or back to the pool.
    private func giveUpSlot() {
        let waiter = self.state.withLock { state -> Waiter? in
            guard !state.isShutDown, !state.waiters.isEmpty else {
                state.open -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: nil)
    }

    private func waitForTurn(id: Int) async throws -> HTTPConnection? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let cancelled = self.state.withLock { state -> Bool in
                    // Checked under the lock that onCancel takes too, so no cancellation is missed.
                    if Task.isCancelled { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
