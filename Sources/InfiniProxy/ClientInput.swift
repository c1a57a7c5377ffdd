import NIOCore
import RESP

/// What a client has sent: the bytes read and not yet used, and the reads still to come.
struct ClientInput {
    /// Bytes read and not yet parsed or taken.
    var pending = ByteBuffer()
    /// Reads taken from the connection and not yet appended to ``pending``: they are appended
    /// one at a time, so the bytes of a large value are held against the client memory as they
    /// come, as if each read arrived on its own.
    private var unread = CircularBuffer<ByteBuffer>()
    private let connection: ClientConnection

    init(_ connection: ClientConnection) {
        self.connection = connection
    }

    private mutating func nextRead() async -> ByteBuffer? {
        if unread.isEmpty { unread.append(contentsOf: await connection.read()) }
        return unread.popFirst()
    }

    /// The client closed the connection partway through a value.
    struct EndedEarly: Error, CustomStringConvertible {
        var description: String { "the client closed the connection partway through a value" }
    }

    /// Appends the next read to ``pending``; false once the client has closed the connection.
    /// The read is taken as it is, without a copy, when nothing is pending and ``pending`` has
    /// no more room to keep than the read (after a large value it keeps that value's room, so
    /// the next large value is not allocated and faulted in again).
    mutating func read() async -> Bool {
        guard var bytes = await nextRead() else { return false }
        if pending.readableBytes == 0, pending.capacity <= bytes.capacity {
            pending = bytes
        } else {
            pending.writeBuffer(&bytes)
        }
        return true
    }

    /// The next `count` bytes as the reads they arrived in, sliced rather than copied into one
    /// buffer (short pieces are joined, as ``ValueBytes/append(_:)`` does), reading as many
    /// times as it takes.
    mutating func takeParts(_ count: Int) async throws -> ValueBytes {
        var value = ValueBytes(expectedLength: count)
        while value.readableBytes < count {
            if pending.readableBytes == 0 {
                guard let bytes = await nextRead() else { throw EndedEarly() }
                pending = bytes
            }
            guard var piece = pending.readSlice(length: min(count - value.readableBytes, pending.readableBytes)) else {
                preconditionFailure("a slice of the readable bytes")
            }
            // A part keeps its read's whole buffer alive, and the client memory counts only the
            // value's bytes: a buffer the read left mostly empty is copied out of instead.
            if piece.readableBytes >= ValueBytes.separatePartLength, piece.storageCapacity > 2 * piece.readableBytes {
                piece = ByteBuffer(bytes: piece.readableBytesView)
            }
            value.append(piece)
        }
        return value
    }

    /// Reads past the next `count` bytes without keeping them.
    mutating func skip(_ count: Int) async throws {
        var left = count
        while pending.readableBytes < left {
            left -= pending.readableBytes
            pending.clear()
            guard await read() else { throw EndedEarly() }
        }
        pending.moveReaderIndex(forwardBy: left)
        pending.discardReadBytes()
    }

    /// Reads the CRLF that ends a bulk string.
    mutating func expectCRLF() async throws {
        while pending.readableBytes < 2 {
            guard await read() else { throw EndedEarly() }
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
            guard var bytes = await nextRead() else { throw EndedEarly() }
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
