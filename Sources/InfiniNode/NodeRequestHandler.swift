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

    /// How many requests the link served, readable once it has closed.
    final class Tally: Sendable {
        private let count = Atomic(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    }

    private let memory: ChunkMemory
    private let tally: Tally
    private var parser = RESPCommandParser(limits: .init(maximumBulkLength: NodeProtocol.maximumFrameLength))
    private var pending = ByteBuffer()
    private var acknowledged = false
    private var repliesWritten = false

    init(memory: ChunkMemory, tally: Tally) {
        self.memory = memory
        self.tally = tally
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
        }
        var replies = context.channel.allocator.buffer(capacity: 64)
        var served = 0
        do {
            while let request = try parser.next(from: &pending) {
                handle(request, into: &replies)
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

    private func handle(_ request: [ByteBuffer], into replies: inout ByteBuffer) {
        guard request.count >= 2, let command = NodeProtocol.Command(rawValue: String(buffer: request[0])) else {
            replies.writeError("ERR unknown node request")
            return
        }
        replies.writeArrayHeader(3)
        replies.writeBulkString(request[1])
        switch (command, request.count) {
        case (.set, 4):
            memory.store(ByteBuffer(buffer: request[2]), ByteBuffer(buffer: request[3]))
            replies.writeSimpleString("OK")
        case (.get, 3):
            if let chunk = memory.fetch(request[2]) { replies.writeBulkString(chunk) } else { replies.writeNull(protocol: .v2) }
        case (.delete, _):
            replies.writeRESPInteger(request.dropFirst(2).filter { memory.remove($0) }.count)
        case (.ping, 2):
            replies.writeSimpleString("PONG")
        default:
            replies.writeError("ERR wrong number of arguments for '\(command.rawValue)'")
        }
        replies.writeRESPInteger(memory.usedBytes)
    }
}

extension ByteBuffer {
    /// An owned copy, so a stored chunk does not pin the whole receive buffer.
    init(buffer: ByteBuffer) {
        self = ByteBuffer(bytes: buffer.readableBytesView)
    }
}
