public import NIOCore

/// Frames client requests the way Redis's `processInputBuffer` does: a request starting with
/// `*` is a multibulk of bulk strings (`processMultibulkBuffer`), anything else is an inline
/// command line (`processInlineBuffer`).
///
/// Errors carry Redis's exact texts; a server replies `-ERR <message>` and closes the connection.
/// Progress through a partial multibulk request is remembered between calls, so each bulk header
/// is parsed once and a large argument arriving in many reads is checked in constant time per
/// call: keep passing the same accumulating buffer until a command or an error comes back.
public struct RESPCommandParser: Sendable {
    public typealias Limits = RESPParser.Limits

    /// The bounds this parser enforces; `maximumAggregateLength` caps the argument count
    /// and `maximumBulkLength` plays the role of Redis's `proto-max-bulk-len`.
    public var limits: Limits

    /// Whether the client has yet to authenticate to a server that requires it. Such a client is
    /// held, as Redis holds it, to requests of at most ``unauthenticatedArgumentLimit`` arguments
    /// and bulk strings of at most ``unauthenticatedBulkLimit`` bytes, so a stranger cannot make
    /// the server buffer a large value before it has proved who it is.
    public var clientIsUnauthenticated = false

    /// Redis's fixed limits for a client that has not authenticated.
    public static let unauthenticatedArgumentLimit = 10
    public static let unauthenticatedBulkLimit = 16384

    /// A multibulk request whose header has been read but whose arguments are not all here.
    private struct PendingRequest {
        /// Arguments still to come.
        var remaining: Int
        /// Where the next unread bulk header starts, from the buffer's reader index.
        var offset: Int
        /// The parsed header of a bulk whose payload has not fully arrived.
        var pendingBulk: (dataStart: Int, length: Int)?
        /// Payload locations of the arguments read so far.
        var arguments: [Range<Int>]
    }

    private enum Step {
        case needMoreData
        /// A request that yields no command (`*0`, `*-1`, a blank line): drop it and go on.
        case skip(length: Int)
        case multibulk([Range<Int>], length: Int)
        case inline([RESPInlineArgument], length: Int)
    }

    private var pending: PendingRequest?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// After ``next(from:)`` returned nil partway into a bulk string whose header it has read:
    /// how many readable bytes the buffer must hold before that bulk is complete. A caller can
    /// reserve room for a large argument once instead of growing its buffer read by read. The
    /// length was checked against ``Limits/maximumBulkLength``.
    public var readableBytesNeeded: Int? {
        pending?.pendingBulk.map { $0.dataStart + $0.length + 2 }
    }

    /// After ``next(from:)`` returned nil partway into the last argument of a request whose other
    /// arguments are all in `buffer`: those arguments, as slices of `buffer`, and the length of
    /// the last one. A caller that wants to take that argument's bytes as they arrive instead of
    /// buffering them calls ``handOverLastArgument(in:)``.
    public func requestAwaitingLastArgument(in buffer: ByteBuffer) -> (leading: [ByteBuffer], lastLength: Int)? {
        guard let pending, pending.remaining == 1, let bulk = pending.pendingBulk, buffer.readableBytes >= bulk.dataStart else {
            return nil
        }
        let leading = pending.arguments.map { range in
            guard let slice = buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count) else {
                preconditionFailure("argument ranges lie within the readable bytes")
            }
            return slice
        }
        return (leading, bulk.length)
    }

    /// Ends the request ``requestAwaitingLastArgument(in:)`` found: `buffer`'s reader index moves
    /// to the first byte of its last argument, and parsing starts afresh after it. The caller then
    /// reads that argument's bytes and the CRLF that ends them.
    public mutating func handOverLastArgument(in buffer: inout ByteBuffer) {
        guard let pending, pending.remaining == 1, let bulk = pending.pendingBulk else {
            preconditionFailure("no request is waiting for its last argument")
        }
        buffer.moveReaderIndex(forwardBy: bulk.dataStart)
        self.pending = nil
    }

    /// Parses the next command at the start of `buffer`.
    ///
    /// Empty requests, which Redis ignores, are consumed and skipped.
    ///
    /// - Returns: The command name and arguments, as zero-copy slices of `buffer` except for
    ///   inline arguments that used quotes; or nil when more bytes are needed, in which case
    ///   nothing of the incomplete request has been consumed.
    /// - Throws: ``RESPParsingError`` with Redis's message for a malformed request.
    public mutating func next(from buffer: inout ByteBuffer) throws(RESPParsingError) -> [ByteBuffer]? {
        if let pending = self.pending, buffer.readableBytes < pending.offset {
            // A shorter buffer than the one scanned so far cannot be its continuation.
            self.pending = nil
        }
        while true {
            let step: Step
            do {
                step = try buffer.withUnsafeReadableBytes { bytes throws(RESPParsingError) in
                    try self.step(bytes)
                }
            } catch {
                self.pending = nil
                throw error
            }
            switch step {
            case .needMoreData:
                return nil
            case .skip(let length):
                buffer.moveReaderIndex(forwardBy: length)
            case .multibulk(let ranges, let length):
                let base = buffer.readerIndex
                let arguments = ranges.map { range in
                    guard let slice = buffer.getSlice(at: base + range.lowerBound, length: range.count) else {
                        preconditionFailure("argument ranges lie within the readable bytes")
                    }
                    return slice
                }
                buffer.moveReaderIndex(forwardBy: length)
                return arguments
            case .inline(let parsed, let length):
                let base = buffer.readerIndex
                let arguments = parsed.map { argument in
                    switch argument {
                    case .range(let range):
                        guard let slice = buffer.getSlice(at: base + range.lowerBound, length: range.count) else {
                            preconditionFailure("argument ranges lie within the readable bytes")
                        }
                        return slice
                    case .bytes(let bytes):
                        return ByteBuffer(bytes: bytes)
                    }
                }
                buffer.moveReaderIndex(forwardBy: length)
                return arguments
            }
        }
    }

    private mutating func step(_ bytes: UnsafeRawBufferPointer) throws(RESPParsingError) -> Step {
        var request: PendingRequest
        if let pending = self.pending {
            request = pending
        } else {
            guard !bytes.isEmpty else {
                return .needMoreData
            }
            guard bytes[0] == RESPByte.array else {
                return try self.inlineStep(bytes)
            }
            guard let header = try self.multibulkHeader(bytes) else {
                return .needMoreData
            }
            guard header.count > 0 else {
                return .skip(length: header.end)
            }
            // Never more than a handful up front: the count is only a claim until the bulks arrive.
            var arguments: [Range<Int>] = []
            arguments.reserveCapacity(min(header.count, 16))
            request = PendingRequest(
                remaining: header.count, offset: header.end, pendingBulk: nil, arguments: arguments)
        }
        while request.remaining > 0 {
            let bulk: (dataStart: Int, length: Int)
            if let pendingBulk = request.pendingBulk {
                bulk = pendingBulk
            } else {
                guard let header = try self.bulkHeader(bytes, at: request.offset) else {
                    self.pending = request
                    return .needMoreData
                }
                bulk = header
                request.pendingBulk = header
            }
            // Constant time however large the bulk; a subtraction so nothing can overflow.
            guard bytes.count - bulk.dataStart - 2 >= bulk.length else {
                self.pending = request
                return .needMoreData
            }
            let dataEnd = bulk.dataStart + bulk.length
            // Redis skips these two bytes unchecked; checking them catches a desynchronised client.
            guard bytes[dataEnd] == RESPByte.cr, bytes[dataEnd + 1] == RESPByte.lf else {
                throw .expectedCRLF
            }
            request.arguments.append(bulk.dataStart..<dataEnd)
            request.offset = dataEnd + 2
            request.pendingBulk = nil
            request.remaining -= 1
        }
        self.pending = nil
        return .multibulk(request.arguments, length: request.offset)
    }

    /// `*<count>\r\n`, read as `processMultibulkBuffer` does. Returns nil until the CRLF is here.
    private func multibulkHeader(_ bytes: UnsafeRawBufferPointer) throws(RESPParsingError) -> (count: Int, end: Int)? {
        guard let cr = try self.headerEnd(bytes, from: 0, tooBig: .tooBigMultibulkCountString) else {
            return nil
        }
        guard let count = RESPByte.parseStrictInteger(bytes, 1..<cr) else {
            throw .invalidMultibulkLength
        }
        guard count <= self.limits.maximumAggregateLength, let count = Int(exactly: count) else {
            throw .invalidMultibulkLength
        }
        if self.clientIsUnauthenticated, count > Self.unauthenticatedArgumentLimit {
            throw .unauthenticatedMultibulkLength
        }
        // Redis treats any count <= 0 as an empty request.
        return (max(count, 0), cr + 2)
    }

    /// `$<length>\r\n`, read as `processMultibulkBuffer` does. Returns nil until the CRLF is here.
    private func bulkHeader(
        _ bytes: UnsafeRawBufferPointer,
        at offset: Int
    ) throws(RESPParsingError) -> (dataStart: Int, length: Int)? {
        guard let cr = try self.headerEnd(bytes, from: offset, tooBig: .tooBigBulkCountString) else {
            return nil
        }
        // Redis looks at the marker only once the whole line is in.
        guard bytes[offset] == RESPByte.bulkString else {
            throw .expectedBulkString(got: bytes[offset])
        }
        guard let length = RESPByte.parseStrictInteger(bytes, (offset + 1)..<cr),
            length >= 0, length <= self.limits.maximumBulkLength,
            let length = Int(exactly: length)
        else {
            throw .invalidBulkLength
        }
        if self.clientIsUnauthenticated, length > Self.unauthenticatedBulkLimit {
            throw .unauthenticatedBulkLength
        }
        return (cr + 2, length)
    }

    /// The index of the CR ending the header line at `start`, or nil while it is incomplete.
    ///
    /// Like Redis this looks for CR (so a stray LF inside makes the number invalid), and gives up
    /// with `tooBig` once more than `maximumInlineLength` bytes are waiting without one.
    private func headerEnd(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        tooBig: RESPParsingError
    ) throws(RESPParsingError) -> Int? {
        let limit = self.limits.maximumInlineLength
        let searchEnd = min(bytes.count, start + limit + 1)
        guard let cr = RESPByte.firstIndex(of: RESPByte.cr, in: bytes, from: start, to: searchEnd) else {
            if bytes.count - start > limit {
                throw tooBig
            }
            return nil
        }
        guard cr + 1 < bytes.count else {
            return nil
        }
        // Redis skips the byte after CR unchecked; requiring LF keeps framing strict.
        guard bytes[cr + 1] == RESPByte.lf else {
            throw .expectedCRLF
        }
        return cr
    }

    /// One line split like `processInlineBuffer`: it ends at LF, with an optional CR before it.
    private func inlineStep(_ bytes: UnsafeRawBufferPointer) throws(RESPParsingError) -> Step {
        let limit = self.limits.maximumInlineLength
        let searchEnd = min(bytes.count, limit + 1)
        guard let lf = RESPByte.firstIndex(of: RESPByte.lf, in: bytes, from: 0, to: searchEnd) else {
            if bytes.count > limit {
                throw .tooBigInlineRequest
            }
            return .needMoreData
        }
        let lineEnd = lf > 0 && bytes[lf - 1] == RESPByte.cr ? lf - 1 : lf
        let arguments = try RESPInlineArgument.split(bytes, 0..<lineEnd)
        guard !arguments.isEmpty else {
            return .skip(length: lf + 1)
        }
        return .inline(arguments, length: lf + 1)
    }
}
