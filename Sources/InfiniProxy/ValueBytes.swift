public import NIOCore

/// A value's bytes as one or more buffers in order. A large value read from the nodes is the
/// payloads of its data chunks side by side, and reaches the client that way: joining them
/// would copy every byte once more. A long value read for a reply may end in stripes that are
/// read only as the reply is written.
public struct ValueBytes: Sendable, Equatable, CustomStringConvertible {
    /// Parts at least this long are kept as they are; shorter ones are copied together, since
    /// a part costs the writer an I/O vector and the reader a buffer.
    static let separatePartLength = 16 << 10

    public private(set) var parts: [ByteBuffer]
    /// The length of the value: its parts and its remaining stripes.
    public private(set) var readableBytes: Int
    /// The stripes after ``parts``, read while the reply is written.
    private(set) var remainingStripes: RemainingStripes?
    /// The share of the client memory the value takes while a reply carries it.
    var hold: ByteBudget.Hold?
    /// Bytes still to come, so a buffer started for short parts has room for those that follow.
    private var expectedBytes: Int
    /// Whether the last part is this value's own buffer, which short parts are copied into.
    private var fillsLastPart = false

    public init(_ buffer: ByteBuffer) {
        parts = [buffer]
        readableBytes = buffer.readableBytes
        expectedBytes = 0
    }

    /// An empty value that `expectedLength` bytes will be appended to.
    init(expectedLength: Int) {
        parts = []
        readableBytes = 0
        expectedBytes = expectedLength
    }

    /// Adds `part` at the end: as a part of its own when it is long; otherwise copied, together
    /// with the short parts next to it, into a buffer of this value's own.
    mutating func append(_ part: ByteBuffer) {
        precondition(remainingStripes == nil, "parts come before the remaining stripes")
        let length = part.readableBytes
        readableBytes += length
        expectedBytes = max(0, expectedBytes - length)
        if length >= Self.separatePartLength {
            parts.append(part)
            fillsLastPart = false
        } else if fillsLastPart {
            parts[parts.count - 1].writeImmutableBuffer(part)
        } else {
            var buffer = ByteBufferAllocator().buffer(capacity: length + min(expectedBytes, Self.separatePartLength * 4))
            buffer.writeImmutableBuffer(part)
            parts.append(buffer)
            fillsLastPart = true
        }
    }

    /// Ends the value with stripes read only as its reply is written.
    mutating func append(_ stripes: RemainingStripes) {
        precondition(remainingStripes == nil, "a value has one run of remaining stripes")
        remainingStripes = stripes
        readableBytes += stripes.range.count
    }

    /// The bytes at `range`, as slices of the parts.
    ///
    /// - Precondition: the value has no remaining stripes; it was read whole.
    func slice(_ range: Range<Int>) -> ValueBytes {
        precondition(remainingStripes == nil, "a value with remaining stripes is written, not sliced")
        if range == 0..<readableBytes { return self }
        var slice = ValueBytes(expectedLength: 0)
        var start = 0
        for part in parts {
            let end = start + part.readableBytes
            let lower = max(start, range.lowerBound)
            let upper = min(end, range.upperBound)
            if lower < upper, let piece = part.getSlice(at: part.readerIndex + lower - start, length: upper - lower) {
                slice.parts.append(piece)
                slice.readableBytes += piece.readableBytes
            }
            start = end
        }
        return slice
    }

    /// All the bytes in one buffer: the only part itself, or a copy joining the parts.
    ///
    /// - Precondition: the value has no remaining stripes; it was read whole.
    public var joined: ByteBuffer {
        precondition(remainingStripes == nil, "a value with remaining stripes is written, not joined")
        guard parts.count > 1 else { return parts.first ?? ByteBuffer() }
        var buffer = ByteBufferAllocator().buffer(capacity: readableBytes)
        for part in parts { buffer.writeImmutableBuffer(part) }
        return buffer
    }

    public static func == (lhs: ValueBytes, rhs: ValueBytes) -> Bool {
        lhs.readableBytes == rhs.readableBytes && lhs.joined == rhs.joined
    }

    public var description: String { String(buffer: joined) }
}
