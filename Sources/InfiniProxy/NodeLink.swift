import InfiniNodeProtocol
import NIOCore
import RESP
import Synchronization

/// One authenticated connection from a memory node. Requests carry ids, so any number can be in
/// flight; a reply nobody waits for any more (a chunk that lost the first-`d` race) completes a
/// promise nobody reads, without touching the connection.
///
/// Requests are handed to the link's event loop and written there; all requests written during
/// one turn of the loop go out with one flush, so concurrent clients share system calls.
final class NodeLink: Sendable {
    let nodeID: Int
    let session: String
    private let channel: any Channel
    private let handler: NIOLoopBound<NodeLinkHandler>
    private let lastRequestID = Atomic<Int64>(0)

    init(nodeID: Int, session: String, channel: any Channel, handler: NodeLinkHandler) {
        self.nodeID = nodeID
        self.session = session
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
    }

    var isOpen: Bool { channel.isActive }

    /// Arguments longer than this (chunk bodies) are written as buffers of their own rather
    /// than copied into the frame.
    static let inlineArgumentLimit = 16 << 10

    /// Sends one request and waits for its reply's result. Cancelling the task fails the wait at
    /// once; a reply that arrives later is dropped.
    func request(_ command: NodeProtocol.Command, _ arguments: [ByteBuffer]) async throws -> RESPValue {
        let id = lastRequestID.add(1, ordering: .relaxed).newValue
        var parts = [ByteBuffer]()
        var frame = channel.allocator.buffer(capacity: 128)
        frame.writeArrayHeader(2 + arguments.count)
        frame.writeBulkString(command.rawValue)
        frame.writeBulkString(String(id))
        for argument in arguments {
            if argument.readableBytes <= Self.inlineArgumentLimit {
                frame.writeBulkString(argument)
            } else {
                frame.writeString("$\(argument.readableBytes)\r\n")
                parts.append(frame)
                parts.append(argument)
                frame = channel.allocator.buffer(capacity: 128)
                frame.writeString("\r\n")
            }
        }
        parts.append(frame)
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let handler = self.handler
        // The reply's callback is added in the same turn of the event loop as the request: a
        // future's `get()` from off the loop would hop onto it a second time to add it.
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                channel.eventLoop.execute { [parts] in
                    promise.futureResult.whenComplete { continuation.resume(with: $0) }
                    handler.value.send(id: id, parts: parts, promise: promise)
                }
            }
        } onCancel: {
            promise.fail(CancellationError())
        }
    }

    /// Closes the connection; everything in flight fails with `reason`.
    func close(reason: String) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.close(reason: reason) }
    }
}

/// The node link's state on its event loop: requests waiting for replies, and the reply parser.
final class NodeLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let nodeID: Int
    private let persistence: PersistenceTracker?
    private let onRecovery: @Sendable (RecoveryNotice) -> Void
    private let onClose: @Sendable () -> Void
    private var context: ChannelHandlerContext?
    private var waiting: [Int64: (promise: EventLoopPromise<RESPValue>, deadline: NIODeadline)] = [:]
    private let requestTimeout: TimeAmount
    private var deadlineSweep: RepeatedTask?
    private var parser = RESPParser(limits: .init(maximumBulkLength: NodeProtocol.maximumFrameLength))
    private var pending = ByteBuffer()
    private var flushScheduled = false
    private var closedReason: String?
    /// Whether the node said goodbye: its memory is intact, it just went idle.
    private var returned = false

    /// - Parameters:
    ///   - persistence: told of the node's persisted notices, and of the node's loss.
    ///   - requestTimeout: how long a request may wait for its reply before it fails.
    ///   - onRecovery: told, on the event loop, when the node starts and ends a restore.
    ///   - onClose: called once, on the event loop, when the link is gone.
    init(
        nodeID: Int,
        persistence: PersistenceTracker?,
        requestTimeout: TimeAmount,
        onRecovery: @escaping @Sendable (RecoveryNotice) -> Void = { _ in },
        onClose: @escaping @Sendable () -> Void
    ) {
        self.nodeID = nodeID
        self.persistence = persistence
        self.requestTimeout = requestTimeout
        self.onRecovery = onRecovery
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // One sweep a fraction of the timeout apart, rather than a timer per request: a stuck
        // node fails its requests within 1.25 timeouts, and requests cost no timer each.
        let interval = TimeAmount.nanoseconds(max(requestTimeout.nanoseconds / 4, 1_000_000))
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineSweep = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            loopBound.value.failOverdueRequests()
        }
    }

    private func failOverdueRequests() {
        let now = NIODeadline.now()
        let overdue = waiting.filter { $0.value.deadline <= now }
        guard !overdue.isEmpty else { return }
        let error = NodeUnavailable(node: nodeID, reason: "no reply within \(requestTimeout.nanoseconds / 1_000_000) ms")
        for (id, request) in overdue {
            waiting[id] = nil
            request.promise.fail(error)
        }
    }

    /// Writes a request's frame, given in parts so large bodies are not copied into it.
    func send(id: Int64, parts: [ByteBuffer], promise: EventLoopPromise<RESPValue>) {
        guard closedReason == nil, let context else {
            promise.fail(NodeLinkClosed(node: nodeID, reason: closedReason ?? "the link closed", nodeReturned: returned))
            return
        }
        waiting[id] = (promise, .now() + requestTimeout)
        for part in parts { context.write(wrapOutboundOut(part), promise: nil) }
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = loopBound.value
            handler.flushScheduled = false
            handler.context?.flush()
        }
    }

    func close(reason: String) {
        if closedReason == nil { closedReason = reason }
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        // A read that starts a reply is parsed where it is: the chunks in it are then slices of
        // the read, not copies.
        if pending.readableBytes == 0 { pending = bytes } else { pending.writeBuffer(&bytes) }
        do {
            while let value = try parser.next(from: &pending) {
                if case .push(let fields) = value {
                    guard notice(fields) else { return }
                } else {
                    deliver(value)
                }
            }
        } catch {
            close(reason: "link error: \(error)")
            return
        }
        if pending.readableBytes == 0 { pending = ByteBuffer() } else { pending.discardReadBytes() }
    }

    /// Handles a push from the node; returns false once the node may go.
    private func notice(_ fields: [RESPValue]) -> Bool {
        let chunk = fields.count >= 2 ? fields[1].stringValue.flatMap(ChunkID.init) : nil
        switch fields.first?.stringValue {
        case NodeProtocol.bye:
            // Requests on their way crossed the goodbye: the node answers them and asks again.
            guard waiting.isEmpty else { return true }
            returned = true
            close(reason: "the node returned")
            return false
        case NodeProtocol.persisted:
            if let chunk { persistence?.persisted(chunk) }
        case NodeProtocol.persistFailed:
            if let chunk { persistence?.failed(chunk, node: nodeID, reason: fields.last?.stringValue ?? "unknown") }
        case NodeProtocol.restoring:
            if fields.count == 3, let chunks = fields[1].stringValue.flatMap(Int.init), let bytes = fields[2].stringValue.flatMap(Int.init) {
                onRecovery(.restoring(chunks: chunks, bytes: bytes))
            }
        case NodeProtocol.restored:
            onRecovery(.restored)
        default:
            break
        }
        return true
    }

    /// A reply `[id, result, usedBytes]`; the memory figure is not used by the proxy yet.
    private func deliver(_ reply: RESPValue) {
        guard let fields = reply.arrayValue, fields.count == 3,
            let idText = fields[0].stringValue, let id = Int64(idText)
        else { return }
        waiting.removeValue(forKey: id)?.promise.succeed(fields[1])
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(reason: "the connection failed: \(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = closedReason ?? "the connection closed"
        closedReason = reason
        let all = waiting
        waiting.removeAll()
        deadlineSweep?.cancel()
        for request in all.values { request.promise.fail(NodeLinkClosed(node: nodeID, reason: reason, nodeReturned: returned)) }
        self.context = nil
        if !returned { persistence?.nodeLost(nodeID) }
        onClose()
        context.fireChannelInactive()
    }
}

/// What a node says about restoring its chunks from its lineage.
enum RecoveryNotice: Hashable, Sendable {
    case restoring(chunks: Int, bytes: Int)
    case restored
}

/// A node link ended (the node returned, was reclaimed, or the connection broke).
struct NodeLinkClosed: Error, CustomStringConvertible {
    let node: Int
    let reason: String
    /// Whether the node went idle and returned (its memory intact) rather than broke away.
    let nodeReturned: Bool
    var description: String { "memory node \(node): \(reason)" }
}
