import InfiniCOS
import InfiniNodeProtocol
import NIOCore
import RESP
import Synchronization

/// Serves the proxy's chunk requests on the link's event loop: it waits for the proxy's `+OK` to
/// its hello, then answers every request in a read with one write, flushed once per read burst.
/// Nothing leaves the event loop, so a request costs one wake-up, not a hop to another thread.
final class NodeRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How many requests the link served, readable once it has closed, and how many reads
    /// from the COS are still to be answered (the node must not return before they are).
    final class Tally: Sendable {
        private let count = Atomic(0)
        private let readsInFlight = Atomic(0)
        var value: Int { count.load(ordering: .relaxed) }
        var isReading: Bool { readsInFlight.load(ordering: .relaxed) > 0 }
        func add(_ n: Int) { count.add(n, ordering: .relaxed) }
        func readStarted() { readsInFlight.add(1, ordering: .relaxed) }
        func readAnswered() { readsInFlight.subtract(1, ordering: .relaxed) }
    }

    private let memory: ChunkMemory
    private let persister: ChunkPersister?
    private let loader: ChunkLoader?
    private let lineage: NodeLineage?
    private let helpers: HelperDuties
    private let onLinked: @Sendable (any Channel) -> Void
    private let tally: Tally
    private var parser = RESPCommandParser(limits: .init(maximumBulkLength: NodeProtocol.maximumFrameLength))
    private var pending = ByteBuffer()
    private var acknowledged = false
    private var repliesWritten = false
    private var notices: NoticeOutbox?

    /// - Parameters:
    ///   - loader: brings chunks the node lacks back from the COS; nil without a COS.
    ///   - lineage: told of every chunk made durable and removed; nil without one.
    ///   - helpers: this node's duties as a helper in other nodes' recovery.
    ///   - onLinked: called once the proxy has accepted the link.
    init(
        memory: ChunkMemory,
        persister: ChunkPersister?,
        loader: ChunkLoader?,
        lineage: NodeLineage?,
        helpers: HelperDuties,
        tally: Tally,
        onLinked: @escaping @Sendable (any Channel) -> Void = { _ in }
    ) {
        self.memory = memory
        self.persister = persister
        self.loader = loader
        self.lineage = lineage
        self.helpers = helpers
        self.tally = tally
        self.onLinked = onLinked
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        if !acknowledged {
            guard pending.readableBytes >= 5 else { return }
            guard pending.readString(length: 5) == "+OK\r\n" else {
                context.fireErrorCaught(NodeRuntimeError("the proxy refused the link"))
                context.close(promise: nil)
                return
            }
            acknowledged = true
            notices = NoticeOutbox(channel: context.channel)
            onLinked(context.channel)
        }
        var replies = context.channel.allocator.buffer(capacity: 64)
        var served = 0
        do {
            while let request = try parser.next(from: &pending) {
                handle(request, into: &replies, channel: context.channel)
                served += 1
            }
        } catch {
            context.close(promise: nil)
            return
        }
        pending.discardReadBytes()
        tally.add(served)
        if replies.readableBytes > 0 {
            context.write(wrapOutboundOut(replies), promise: nil)
            repliesWritten = true
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if repliesWritten {
            repliesWritten = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    private func handle(_ request: [ByteBuffer], into replies: inout ByteBuffer, channel: any Channel) {
        guard request.count >= 2, let command = NodeProtocol.Command(rawValue: String(buffer: request[0])) else {
            replies.writeError("ERR unknown node request")
            return
        }
        // Looked up once: a miss goes to the COS, a hit is answered below.
        let held = command == .get && request.count == 3 ? memory.fetch(request[2]) : nil
        if command == .get, request.count == 3, held == nil, let loader {
            let name = ByteBuffer(buffer: request[2])
            answerLater(request[1], channel: channel) { await loader.load(name) }
            return
        }
        if command == .get, request.count == 4, let helped = Int(String(buffer: request[3])) {
            let (helpers, name) = (self.helpers, ByteBuffer(buffer: request[2]))
            answerLater(request[1], channel: channel) { await helpers.fetch(name, helping: helped) }
            return
        }
        replies.writeArrayHeader(3)
        replies.writeBulkString(request[1])
        switch (command, request.count) {
        case (.set, 4), (.set, 5):
            guard request.count == 4 || request[4].readableBytesView.elementsEqual(NodeProtocol.memoryOnly.utf8) else {
                replies.writeError("ERR unknown chunk flag")
                break
            }
            let name = ByteBuffer(buffer: request[2])
            let bytes = ByteBuffer(buffer: request[3])
            if let persister, let notices, request.count == 4 {
                guard let objectName = try? ChunkPersister.objectName(forChunk: String(buffer: name)) else {
                    replies.writeError("ERR invalid chunk name")
                    break
                }
                let (memory, lineage, size) = (self.memory, self.lineage, bytes.readableBytes)
                persister.persist(objectName, bytes: bytes) { outcome in
                    // A chunk removed while it was written is gone from the COS again.
                    if outcome == .persisted, let lineage, memory.fetch(name) != nil {
                        lineage.record(.set(chunk: String(buffer: name), size: size))
                    }
                    notices.send(Self.notice(outcome, for: name))
                }
            }
            memory.store(name, bytes)
            replies.writeSimpleString("OK")
        case (.get, 3):
            if let held { replies.writeBulkString(held) } else { replies.writeNull(protocol: .v2) }
        case (.delete, _):
            // The reply names the chunks whose COS write was dropped before it began, so the
            // proxy does not delete objects that were never written.
            let names = request.dropFirst(2)
            let objects = names.map { (name: $0, object: try? ChunkPersister.objectName(forChunk: String(buffer: $0))) }
            let unwritten = persister?.cancel(objects.compactMap(\.object)) ?? []
            var unwrittenNames = [ByteBuffer]()
            for (name, object) in objects {
                if let object, unwritten.contains(object) {
                    unwrittenNames.append(name)
                } else {
                    lineage?.record(.delete(chunk: String(buffer: name)))
                }
            }
            if let loader { _ = loader.remove(names) } else { for name in names { _ = memory.remove(name) } }
            replies.writeArrayHeader(unwrittenNames.count)
            for name in unwrittenNames { replies.writeBulkString(name) }
        case (.ping, 2):
            replies.writeSimpleString("PONG")
        case (.has, _):
            let held = request.dropFirst(2).filter { memory.fetch($0) != nil }
            replies.writeArrayHeader(held.count)
            for name in held { replies.writeBulkString(name) }
        case (.flush, 2):
            persister?.expedite()
            replies.writeSimpleString("OK")
        case (.help, 5):
            guard let helped = Int(String(buffer: request[2])), let partition = Int(String(buffer: request[3])),
                let partitions = Int(String(buffer: request[4])), (0..<partitions).contains(partition)
            else {
                replies.writeError("ERR invalid help request")
                break
            }
            if helpers.start(helping: helped, partition: partition, of: partitions) {
                replies.writeSimpleString("OK")
            } else {
                replies.writeError("ERR no COS to help from")
            }
        case (.unhelp, 3):
            replies.writeRESPInteger(Int(String(buffer: request[2])).map { helpers.stop(helping: $0) } ?? 0)
        default:
            replies.writeError("ERR wrong number of arguments for '\(command.rawValue)'")
        }
        replies.writeRESPInteger(memory.usedBytes)
    }
}

extension NodeRequestHandler {
    /// Answers a read once `fetch` has the chunk, from a task, while the link goes on serving:
    /// a chunk this node does not hold comes from the COS (after the node lost its memory, a
    /// chunk not restored yet costs one COS read, and only its request waits for it).
    private func answerLater(_ id: ByteBuffer, channel: any Channel, fetch: @escaping @Sendable () async -> ByteBuffer?) {
        let (memory, tally, id) = (self.memory, self.tally, ByteBuffer(buffer: id))
        tally.readStarted()
        Task {
            defer { tally.readAnswered() }
            let bytes = await fetch()
            var reply = ByteBuffer()
            reply.writeArrayHeader(3)
            reply.writeBulkString(id)
            if let bytes { reply.writeBulkString(bytes) } else { reply.writeNull(protocol: .v2) }
            reply.writeRESPInteger(memory.usedBytes)
            channel.writeAndFlush(reply, promise: nil)
        }
    }

    /// The push that tells the proxy what became of a chunk's write to the COS.
    static func notice(_ outcome: ChunkPersister.Outcome, for chunk: ByteBuffer) -> ByteBuffer {
        var notice = ByteBuffer()
        switch outcome {
        case .persisted:
            notice.writePushHeader(2, protocol: .v3)
            notice.writeBulkString(NodeProtocol.persisted)
            notice.writeBulkString(chunk)
        case .failed(let reason):
            notice.writePushHeader(3, protocol: .v3)
            notice.writeBulkString(NodeProtocol.persistFailed)
            notice.writeBulkString(chunk)
            notice.writeBulkString(reason)
        }
        return notice
    }
}

extension ByteBuffer {
    /// An owned copy, so a stored chunk does not pin the whole receive buffer.
    init(buffer: ByteBuffer) {
        self = ByteBuffer(bytes: buffer.readableBytesView)
    }
}
