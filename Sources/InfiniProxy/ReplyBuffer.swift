import NIOCore
import RESP

/// The replies to a client's commands, in order, as buffers to write with one gathering write.
/// Replies are encoded into one buffer, except that a value's long parts are placed between
/// the encoded bytes before and after them instead of being copied in: a 1 MiB GET is then
/// written from the chunks it was read from.
struct ReplyBuffer {
    /// Buffers before ``encoded``, in order.
    private var finished: [ByteBuffer] = []
    private var finishedBytes = 0
    /// Where replies are being encoded.
    private var encoded: ByteBuffer
    /// The client memory the values in these replies hold, given back once they are written.
    private var holds: [ByteBudget.Hold] = []
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        encoded = allocator.buffer(capacity: 256)
    }

    var readableBytes: Int { finishedBytes + encoded.readableBytes }

    /// Whether values in these replies hold client memory.
    var holdsClientMemory: Bool { !holds.isEmpty }

    /// Every buffer to write, in order.
    var buffers: [ByteBuffer] {
        encoded.readableBytes == 0 ? finished : finished + [encoded]
    }

    mutating func clear() {
        finished.removeAll(keepingCapacity: true)
        finishedBytes = 0
        encoded.clear()
        holds.removeAll()
    }

    /// Writes `value` as a bulk string, its long parts by reference.
    mutating func writeBulkString(_ value: ValueBytes) {
        if let hold = value.hold { holds.append(hold) }
        encoded.writeBulkStringHeader(length: value.readableBytes)
        for part in value.parts {
            if part.readableBytes >= ValueBytes.separatePartLength {
                finish()
                finished.append(part)
                finishedBytes += part.readableBytes
            } else {
                encoded.writeImmutableBuffer(part)
            }
        }
        encoded.writeBulkStringEnd()
    }

    /// Ends the encoded buffer, so what follows goes after the next part.
    private mutating func finish() {
        guard encoded.readableBytes > 0 else { return }
        finished.append(encoded)
        finishedBytes += encoded.readableBytes
        encoded = allocator.buffer(capacity: 256)
    }

    // The encoders the commands use, writing into the encoded buffer.

    mutating func writeSimpleString(_ string: String) { encoded.writeSimpleString(string) }
    mutating func writeError(_ error: String) { encoded.writeError(error) }
    mutating func writeRESPInteger(_ value: Int64) { encoded.writeRESPInteger(value) }
    mutating func writeRESPInteger(_ value: Int) { encoded.writeRESPInteger(value) }
    mutating func writeBulkString(_ bytes: ByteBuffer) { writeBulkString(ValueBytes(bytes)) }
    mutating func writeBulkString(_ string: String) { encoded.writeBulkString(string) }
    mutating func writeNull(protocol version: RESPProtocolVersion) { encoded.writeNull(protocol: version) }
    mutating func writeNullArray(protocol version: RESPProtocolVersion) { encoded.writeNullArray(protocol: version) }
    mutating func writeArrayHeader(_ count: Int) { encoded.writeArrayHeader(count) }
    mutating func writeMapHeader(_ count: Int, protocol version: RESPProtocolVersion) {
        encoded.writeMapHeader(count, protocol: version)
    }
    mutating func writeSetHeader(_ count: Int, protocol version: RESPProtocolVersion) {
        encoded.writeSetHeader(count, protocol: version)
    }
    mutating func writeVerbatimString(_ text: String, protocol version: RESPProtocolVersion) {
        encoded.writeVerbatimString(text, protocol: version)
    }
    mutating func writeRESPValue(_ value: RESPValue, protocol version: RESPProtocolVersion) {
        encoded.writeRESPValue(value, protocol: version)
    }
}
