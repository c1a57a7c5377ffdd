import NIOCore
import RESP

/// The replies to a client's commands, in order, as buffers to write with one gathering write.
/// Replies are encoded into one buffer, except that a value's long parts are placed between
/// the encoded bytes before and after them instead of being copied in: a 1 MiB GET is then
/// written from the chunks it was read from. A long value's remaining stripes are read as their
/// turn to be written comes.
struct ReplyBuffer {
    /// Buffers before ``encoded``, in order.
    private var finished: [ByteBuffer] = []
    /// Bytes in ``finished`` and ``streamed``.
    private var finishedBytes = 0
    /// Values' remaining stripes, each with the number of ``finished`` buffers written before it.
    private var streamed: [(position: Int, stripes: RemainingStripes)] = []
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

    /// Hands every buffer to `write` in order, gathered into as few calls as the remaining
    /// stripes of values allow: those are read one stripe at a time, each once what comes before
    /// it has been handed over.
    func write(with write: ([ByteBuffer]) async throws -> Void) async throws {
        var start = 0
        for (position, stripes) in streamed {
            if position > start { try await write(Array(finished[start..<position])) }
            for stripe in stripes.stripes { try await write(try await stripes.read(stripe).parts) }
            start = position
        }
        let rest = Array(finished[start...]) + (encoded.readableBytes == 0 ? [] : [encoded])
        if !rest.isEmpty { try await write(rest) }
    }

    mutating func clear() {
        finished.removeAll(keepingCapacity: true)
        finishedBytes = 0
        streamed.removeAll()
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
        if let stripes = value.remainingStripes {
            finish()
            streamed.append((finished.count, stripes))
            finishedBytes += stripes.range.count
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
