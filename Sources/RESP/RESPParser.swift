public import NIOCore

/// An incremental parser for RESP2/RESP3 values, as received by a client or a replica.
///
/// Call ``next(from:)`` whenever bytes arrive. It consumes exactly one complete frame, or nothing
/// while the frame is incomplete. Progress through a partial frame is remembered between calls, so
/// a large or many-element frame arriving in small reads is scanned once, not once per read: keep
/// passing the same accumulating buffer (bytes appended, none consumed) until a value or an error
/// comes back.
///
/// Nothing is allocated from an announced length: a bulk string's bytes must be present before it
/// is sliced, and an aggregate's elements must be present before its storage is reserved.
public struct RESPParser: Sendable {
    /// Bounds applied to untrusted input; both parsers share them.
    public struct Limits: Hashable, Sendable {
        /// The largest accepted bulk string, in bytes (Redis `proto-max-bulk-len`).
        public var maximumBulkLength: Int
        /// The largest accepted element count of an aggregate (pairs for maps and attributes),
        /// and of a multibulk request.
        public var maximumAggregateLength: Int
        /// How many aggregates may be nested inside one another.
        public var maximumDepth: Int
        /// The longest line (header, simple value or inline request) accepted without its CRLF.
        public var maximumInlineLength: Int

        /// - Parameters:
        ///   - maximumBulkLength: Redis's default `proto-max-bulk-len`, 512 MiB.
        ///   - maximumAggregateLength: 1 Mi elements, Redis's multibulk cap before 7.0.
        ///   - maximumDepth: 64 levels of nesting, far beyond what any Redis reply uses.
        ///   - maximumInlineLength: Redis's `PROTO_INLINE_MAX_SIZE`, 64 KiB.
        public init(
            maximumBulkLength: Int = 512 * 1024 * 1024,
            maximumAggregateLength: Int = 1024 * 1024,
            maximumDepth: Int = 64,
            maximumInlineLength: Int = 64 * 1024
        ) {
            self.maximumBulkLength = maximumBulkLength
            self.maximumAggregateLength = maximumAggregateLength
            self.maximumDepth = maximumDepth
            self.maximumInlineLength = maximumInlineLength
        }
    }

    /// The bounds this parser enforces.
    public var limits: Limits

    /// Bytes of the current frame already validated, counted from the buffer's reader index.
    private var scannedLength = 0
    /// Elements still expected by each open aggregate, innermost last.
    private var openAggregates: [Int] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses the next complete value at the start of `buffer`.
    ///
    /// - Returns: The value, with `buffer` advanced past its frame; or nil, with `buffer`
    ///   untouched, when more bytes are needed.
    /// - Throws: ``RESPParsingError`` when the bytes are not valid RESP or exceed ``limits``.
    public mutating func next(from buffer: inout ByteBuffer) throws(RESPParsingError) -> RESPValue? {
        if buffer.readableBytes < self.scannedLength {
            // A shorter buffer than the one scanned so far cannot be its continuation.
            self.reset()
        }
        let frameLength: Int
        do {
            guard
                let length = try buffer.withUnsafeReadableBytes({ bytes throws(RESPParsingError) in
                    try self.scan(bytes)
                })
            else {
                return nil
            }
            frameLength = length
        } catch {
            self.reset()
            throw error
        }
        self.reset()
        guard let frame = buffer.readSlice(length: frameLength) else {
            preconditionFailure("a scanned frame lies within the readable bytes")
        }
        let limits = self.limits
        return try frame.withUnsafeReadableBytes { bytes throws(RESPParsingError) in
            var offset = 0
            return try Self.materialize(bytes, frame, &offset, limits)
        }
    }

    private mutating func reset() {
        self.scannedLength = 0
        self.openAggregates.removeAll(keepingCapacity: true)
    }

    /// Validates tokens from where the last call stopped; returns the frame length once complete.
    private mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(RESPParsingError) -> Int? {
        while true {
            guard let token = try RESPToken.read(bytes, at: self.scannedLength, self.limits) else {
                return nil
            }
            self.scannedLength = token.end
            let children = token.childCount
            if children > 0 {
                guard self.openAggregates.count < self.limits.maximumDepth else {
                    throw .nestingTooDeep
                }
                self.openAggregates.append(children)
                continue
            }
            var frameComplete = true
            while let remaining = self.openAggregates.popLast() {
                if remaining > 1 {
                    self.openAggregates.append(remaining - 1)
                    frameComplete = false
                    break
                }
            }
            if frameComplete {
                return self.scannedLength
            }
        }
    }

    /// Builds the value of a frame that ``scan(_:)`` proved complete and valid.
    private static func materialize(
        _ bytes: UnsafeRawBufferPointer,
        _ frame: ByteBuffer,
        _ offset: inout Int,
        _ limits: Limits
    ) throws(RESPParsingError) -> RESPValue {
        guard let token = try RESPToken.read(bytes, at: offset, limits) else {
            preconditionFailure("a scanned frame is complete")
        }
        offset = token.end
        func slice(_ range: Range<Int>) -> ByteBuffer {
            guard let slice = frame.getSlice(at: frame.readerIndex + range.lowerBound, length: range.count) else {
                preconditionFailure("token ranges lie within the frame")
            }
            return slice
        }
        func elements(_ count: Int) throws(RESPParsingError) -> [RESPValue] {
            var values: [RESPValue] = []
            // The scan already found all `count` elements in the buffer, so this is bounded by real bytes.
            values.reserveCapacity(count)
            for _ in 0..<count {
                values.append(try materialize(bytes, frame, &offset, limits))
            }
            return values
        }
        switch token.kind {
        case .simpleString(let range):
            return .simpleString(slice(range))
        case .simpleError(let range):
            return .simpleError(slice(range))
        case .bigNumber(let range):
            return .bigNumber(slice(range))
        case .bulkString(let range):
            return .bulkString(slice(range))
        case .bulkError(let range):
            return .bulkError(slice(range))
        case .verbatimString(let range):
            return .verbatimString(slice(range))
        case .integer(let value):
            return .integer(value)
        case .double(let value):
            return .double(value)
        case .boolean(let value):
            return .boolean(value)
        case .null:
            return .null
        case .array(let count):
            return .array(try elements(count))
        case .set(let count):
            return .set(try elements(count))
        case .push(let count):
            return .push(try elements(count))
        case .map(let count):
            var pairs: [RESPKeyValuePair] = []
            // As for `elements`: every pair is already in the buffer.
            pairs.reserveCapacity(count)
            for _ in 0..<count {
                let key = try materialize(bytes, frame, &offset, limits)
                let value = try materialize(bytes, frame, &offset, limits)
                pairs.append(RESPKeyValuePair(key: key, value: value))
            }
            return .map(pairs)
        case .attribute(let count):
            // Attributes are metadata about the value that follows; it is returned without them.
            for _ in 0..<(2 * count) {
                _ = try materialize(bytes, frame, &offset, limits)
            }
            return try materialize(bytes, frame, &offset, limits)
        }
    }
}
