import InfiniNodeProtocol
import NIOCore
import RESP

/// One authenticated connection from a memory node. Requests carry ids, so any number can be in
/// flight; a reply that arrives for a request nobody waits for any more (a chunk that lost the
/// first-`d` race) is dropped without touching the connection.
actor NodeLink {
    let nodeID: Int
    let session: String
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var waiting: [Int64: CheckedContinuation<RESPValue, any Error>] = [:]
    /// Replies that arrived before their requester started waiting.
    private var early: [Int64: RESPValue] = [:]
    /// Requests whose requester gave up; their replies are dropped on arrival.
    private var abandoned: Set<Int64> = []
    private var lastRequestID: Int64 = 0
    private var closedReason: String?

    init(nodeID: Int, session: String, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.nodeID = nodeID
        self.session = session
        self.outbound = outbound
    }

    var isOpen: Bool { closedReason == nil }

    /// Sends one request and waits for its reply's result.
    func request(_ command: NodeProtocol.Command, _ arguments: [ByteBuffer]) async throws -> RESPValue {
        if let closedReason { throw NodeLinkClosed(node: nodeID, reason: closedReason) }
        lastRequestID += 1
        let id = lastRequestID
        var frame = ByteBuffer()
        frame.writeArrayHeader(2 + arguments.count)
        frame.writeBulkString(command.rawValue)
        frame.writeBulkString(String(id))
        for argument in arguments { frame.writeBulkString(argument) }
        do {
            try await outbound.write(frame)
        } catch is CancellationError {
            // The requester gave up (e.g. it lost the first-d race); the link itself is fine.
            throw CancellationError()
        } catch {
            close(reason: "the connection closed: \(error)")
            throw NodeLinkClosed(node: nodeID, reason: "the connection closed: \(error)")
        }
        if let reply = early.removeValue(forKey: id) { return reply }
        if let closedReason { throw NodeLinkClosed(node: nodeID, reason: closedReason) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.abandon(id) }
        }
    }

    private func abandon(_ id: Int64) {
        if let continuation = waiting.removeValue(forKey: id) {
            continuation.resume(throwing: CancellationError())
            abandoned.insert(id)
        }
    }

    /// Called by the reader with each reply `[id, result, usedBytes]`; the memory figure is not
    /// used by the proxy yet.
    func deliver(_ reply: RESPValue) {
        guard let fields = reply.arrayValue, fields.count == 3,
            let idText = fields[0].stringValue, let id = Int64(idText)
        else { return }
        if let continuation = waiting.removeValue(forKey: id) {
            continuation.resume(returning: fields[1])
        } else if abandoned.remove(id) == nil, id > 0, id <= lastRequestID {
            early[id] = fields[1]
        }
    }

    /// Fails everything in flight; later requests fail at once.
    func close(reason: String) {
        guard closedReason == nil else { return }
        closedReason = reason
        early.removeAll()
        abandoned.removeAll()
        let all = waiting
        waiting.removeAll()
        for continuation in all.values { continuation.resume(throwing: NodeLinkClosed(node: nodeID, reason: reason)) }
    }
}

/// A node link ended (the node returned, was reclaimed, or the connection broke).
struct NodeLinkClosed: Error, CustomStringConvertible {
    let node: Int
    let reason: String
    var description: String { "memory node \(node): \(reason)" }
}
