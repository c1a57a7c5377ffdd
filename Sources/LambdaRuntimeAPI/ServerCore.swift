import NIOCore

/// An invocation from `invoke` until it is answered, times out or fails.
struct PendingInvocation {
    let requestID: String
    let payload: ByteBuffer
    let deadlineEpochMilliseconds: Int64
    let functionARN: String
    let traceID: String
    let promise: EventLoopPromise<InvocationResult>
    var timeout: Scheduled<Void>?
}

/// The state of one function instance's Runtime API: queued invocations, the one the runtime
/// is working on, and parked `next` long polls.
///
/// Lives on a single event loop that also runs every connection of the server, so handlers
/// call it directly without locks.
final class ServerCore {
    private let eventLoop: any EventLoop
    private var queue: [PendingInvocation] = []
    private var outstanding: PendingInvocation?
    private var pollers: [ServerConnectionHandler] = []
    private var connections: [ObjectIdentifier: any Channel] = [:]
    private(set) var connectionsAccepted = 0
    private(set) var initializationError: ErrorDocument?
    private(set) var isShutDown = false

    var parkedPollCount: Int { self.pollers.count }

    var pendingInvocationCount: Int { self.queue.count + (self.outstanding == nil ? 0 : 1) }

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Queues an invocation and arms its timeout, which covers the wait in the queue too.
    func enqueue(_ invocation: PendingInvocation, timeout: TimeAmount) {
        self.eventLoop.assertInEventLoop()
        guard !self.isShutDown else {
            invocation.promise.fail(RuntimeAPIError(.shutDown, "local runtime API server is shut down"))
            return
        }
        var invocation = invocation
        let requestID = invocation.requestID
        invocation.timeout = self.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.expire(requestID: requestID)
        }
        self.queue.append(invocation)
        self.dispatch()
    }

    /// Parks a `next` request until an invocation can be handed to it.
    func poll(_ handler: ServerConnectionHandler) {
        self.pollers.append(handler)
        self.dispatch()
    }

    /// Forgets a parked `next` request whose connection went away.
    func withdraw(_ handler: ServerConnectionHandler) {
        self.pollers.removeAll { $0 === handler }
    }

    /// Answers the outstanding invocation; `false` when `requestID` is not the one the runtime
    /// was given (never delivered, already answered, or timed out).
    func complete(requestID: String, with result: InvocationResult) -> Bool {
        guard let invocation = self.outstanding, invocation.requestID == requestID else { return false }
        self.outstanding = nil
        invocation.timeout?.cancel()
        invocation.promise.succeed(result)
        self.dispatch()
        return true
    }

    /// Puts an invocation back at the head of the queue when writing it to the runtime failed,
    /// so it is not lost with a connection that died while polling.
    func deliveryFailed(requestID: String) {
        guard let invocation = self.outstanding, invocation.requestID == requestID else { return }
        self.outstanding = nil
        self.queue.insert(invocation, at: 0)
        self.dispatch()
    }

    func expire(requestID: String) {
        self.fail(
            requestID: requestID,
            with: RuntimeAPIError(.timedOut, "invocation \(requestID) was not answered before its deadline")
        )
    }

    func fail(requestID: String, with error: any Error) {
        guard let invocation = self.take(requestID: requestID) else { return }
        invocation.timeout?.cancel()
        invocation.promise.fail(error)
        self.dispatch()
    }

    /// An initialization error means the instance cannot serve: every invocation waiting for
    /// it is answered with that error.
    func recordInitializationError(_ error: ErrorDocument) {
        self.initializationError = error
        for invocation in self.takeAll() {
            invocation.promise.succeed(.functionError(type: error.type, message: error.message))
        }
    }

    /// Fails the outstanding invocation and every queued one.
    func failAll(with error: RuntimeAPIError) {
        for invocation in self.takeAll() {
            invocation.promise.fail(error)
        }
    }

    /// Records a new connection; `false` when the server is already shut down and the
    /// connection must be closed.
    func register(_ channel: any Channel) -> Bool {
        guard !self.isShutDown else { return false }
        self.connections[ObjectIdentifier(channel)] = channel
        self.connectionsAccepted += 1
        return true
    }

    func unregister(_ channel: any Channel) {
        self.connections[ObjectIdentifier(channel)] = nil
    }

    /// Stops accepting work, fails everything pending and returns the connections to close.
    func shutDown() -> [any Channel] {
        self.isShutDown = true
        self.failAll(with: RuntimeAPIError(.shutDown, "local runtime API server shut down"))
        self.pollers.removeAll()
        let channels = Array(self.connections.values)
        self.connections.removeAll()
        return channels
    }

    /// Hands queued invocations to parked polls, one at a time: the next invocation goes out
    /// only after the previous one is answered, as in a Lambda sandbox.
    private func dispatch() {
        while self.outstanding == nil, !self.queue.isEmpty, !self.pollers.isEmpty {
            let poller = self.pollers.removeFirst()
            let invocation = self.queue.removeFirst()
            self.outstanding = invocation
            poller.deliver(invocation)
        }
    }

    private func take(requestID: String) -> PendingInvocation? {
        if let invocation = self.outstanding, invocation.requestID == requestID {
            self.outstanding = nil
            return invocation
        }
        guard let index = self.queue.firstIndex(where: { $0.requestID == requestID }) else { return nil }
        return self.queue.remove(at: index)
    }

    private func takeAll() -> [PendingInvocation] {
        var all = self.outstanding.map { [$0] } ?? []
        all.append(contentsOf: self.queue)
        self.outstanding = nil
        self.queue.removeAll()
        for invocation in all {
            invocation.timeout?.cancel()
        }
        return all
    }
}
