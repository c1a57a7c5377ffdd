import NIOCore
import RESP

/// What a client has sent: the bytes read and not yet used, and the reads still to come.
struct ClientInput {
    /// Bytes read and not yet parsed or taken.
    var pending = ByteBuffer()
    private var reads: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
        reads = inbound.makeAsyncIterator()
    }

    /// The client closed the connection partway through a value.
    struct EndedEarly: Error, CustomStringConvertible {
        var description: String { "the client closed the connection partway through a value" }
    }

    /// Appends the next read to ``pending``; false once the client has closed the connection.
    mutating func read() async throws -> Bool {
        guard var bytes = try await reads.next() else { return false }
        pending.writeBuffer(&bytes)
        return true
    }

    /// Reads past the next `count` bytes without keeping them.
    mutating func skip(_ count: Int) async throws {
        var left = count
        while pending.readableBytes < left {
            left -= pending.readableBytes
            pending.clear()
            guard try await read() else { throw EndedEarly() }
        }
        pending.moveReaderIndex(forwardBy: left)
        pending.discardReadBytes()
    }

    /// Reads the CRLF that ends a bulk string.
    mutating func expectCRLF() async throws {
        while pending.readableBytes < 2 {
            guard try await read() else { throw EndedEarly() }
        }
        guard pending.readInteger(as: UInt16.self) == 0x0D0A else { throw RESPParsingError.expectedCRLF }
    }

    /// The next `count` bytes, reading as many times as it takes. Bytes not all read yet land in
    /// one buffer of their own, allocated once, rather than in ``pending``, which would grow by
    /// doubling and stay that large for the connection's later reads.
    mutating func take(_ count: Int, allocator: ByteBufferAllocator) async throws -> ByteBuffer {
        if pending.readableBytes >= count, let taken = pending.readSlice(length: count) {
            pending.discardReadBytes()
            return taken
        }
        var taken = allocator.buffer(capacity: count)
        taken.writeBuffer(&pending)
        pending.clear()
        while taken.readableBytes < count {
            guard var bytes = try await reads.next() else { throw EndedEarly() }
            let wanted = count - taken.readableBytes
            if bytes.readableBytes > wanted, let end = bytes.readSlice(length: wanted) {
                taken.writeImmutableBuffer(end)
                pending.writeBuffer(&bytes)
            } else {
                taken.writeBuffer(&bytes)
            }
        }
        return taken
    }
}
