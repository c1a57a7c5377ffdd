/// Turns chunks back into object bytes, one stripe at a time, from any `d` of a stripe's `d + p`
/// chunks.
///
/// Each chunk is checked before it is used: its header must name the object, version, stripe
/// and geometry being decoded, and its payload must match its CRC32C. Parity is used only when a
/// data chunk is missing. Reused across objects like ``ObjectEncoder``; one decoder per task.
public struct ObjectDecoder: ~Copyable {
    private var shards: ShardBuffer
    private var decompressed: UnsafeMutableRawBufferPointer
    private var object: ObjectDescriptor?
    private var stripeIndex = 0
    private var stripe: ChunkHeader?
    /// The chunks of the current stripe accepted so far.
    public private(set) var presentShards = ShardMask()

    public init() {
        self.shards = ShardBuffer(shardCount: 1)
        self.decompressed = .allocate(byteCount: 0, alignment: ShardBuffer.alignment)
    }

    deinit {
        decompressed.deallocate()
    }

    /// Starts decoding stripe `index` of `object`, forgetting any chunks of a previous stripe.
    public mutating func beginStripe(_ index: Int, of object: ObjectDescriptor) {
        precondition(index >= 0 && index < object.stripeCount, "stripe index out of range")
        self.object = object
        self.stripeIndex = index
        self.stripe = nil
        self.presentShards = ShardMask()
    }

    /// Whether enough chunks arrived to decode the stripe.
    public var isComplete: Bool {
        guard let object else { return false }
        return presentShards.count >= object.geometry.dataShards
    }

    /// Checks `chunk` (header then payload) against the stripe being decoded and keeps it.
    /// Chunks that arrive once the stripe is complete, or twice, are ignored.
    ///
    /// - Returns: Whether the stripe can now be decoded.
    /// - Throws: ``CodingError`` when the chunk is malformed, corrupted, or not part of this stripe;
    ///   the decoder's state is unchanged and other chunks can still be added.
    @discardableResult
    public mutating func addChunk(_ chunk: RawSpan) throws(CodingError) -> Bool {
        guard let object else { preconditionFailure("beginStripe(_:of:) was not called") }
        return try addChunk(chunk, validated: Self.validate(chunk, ofStripe: stripeIndex, of: object))
    }

    /// Keeps a chunk that ``validate(_:ofStripe:of:)`` already accepted for the stripe being
    /// decoded, without checking its bytes again. For callers that sort chunks before decoding,
    /// e.g. while they race for the first `d` to arrive.
    ///
    /// - Precondition: `validated` came from validating these very bytes for this stripe.
    /// - Throws: ``CodingError/Code/invalidChunk`` when the chunk disagrees with chunks already
    ///   added to the stripe.
    @discardableResult
    public mutating func addChunk(_ chunk: RawSpan, validated: ValidatedChunk) throws(CodingError) -> Bool {
        guard let object else { preconditionFailure("beginStripe(_:of:) was not called") }
        let header = validated.header
        precondition(
            validated.object == object && header.stripeIndex == stripeIndex
                && chunk.byteCount == ChunkHeader.size + header.payloadLength,
            "chunk validated for another stripe"
        )
        if isComplete || presentShards.contains(header.shardIndex) { return isComplete }
        if let stripe {
            guard header.flags == stripe.flags, header.storedLength == stripe.storedLength else {
                throw CodingError(.invalidChunk, "chunk disagrees with the other chunks of its stripe")
            }
        } else {
            stripe = header
            shards.resize(shardCount: object.geometry.totalShards, shardLength: header.payloadLength)
        }
        shards.copyIntoShard(header.shardIndex, from: chunk.extracting(ChunkHeader.size...))
        presentShards.insert(header.shardIndex)
        return isComplete
    }

    /// Checks a whole chunk: its header, its payload's CRC32C, and that it belongs to stripe
    /// `stripeIndex` of `object`. Needs no decoder, so it can run wherever chunks arrive.
    ///
    /// - Throws: ``CodingError`` when the chunk is malformed, corrupted, or not part of the stripe.
    public static func validate(
        _ chunk: RawSpan,
        ofStripe stripeIndex: Int,
        of object: ObjectDescriptor
    ) throws(CodingError) -> ValidatedChunk {
        let header = try ChunkHeader.validate(chunk: chunk)
        guard header.keyHash == object.keyHash, header.objectVersion == object.version,
            header.objectLength == object.length, header.geometry == object.geometry,
            header.stripeIndex == stripeIndex, header.stripeLength == object.byteRange(ofStripe: stripeIndex).count
        else {
            throw CodingError(
                .chunkMismatch,
                "chunk belongs to another object or stripe (key hash \(header.keyHash), version "
                    + "\(header.objectVersion), stripe \(header.stripeIndex), shard \(header.shardIndex))"
            )
        }
        return ValidatedChunk(header: header, object: object)
    }

    /// Rebuilds any missing data shards, decompresses if needed, and calls `body` with the
    /// stripe's object bytes.
    ///
    /// - Throws: ``CodingError/Code/tooFewChunks`` if fewer than `d` chunks were added,
    ///   ``CodingError/Code/decompressionFailed`` if the stored stripe does not decompress to its
    ///   recorded length, or what `body` throws.
    public mutating func finishStripe<Result: ~Copyable>(_ body: (RawSpan) throws -> Result) throws -> Result {
        guard let object else { preconditionFailure("beginStripe(_:of:) was not called") }
        let geometry = object.geometry
        guard let stripe, presentShards.count >= geometry.dataShards else {
            throw CodingError(
                .tooFewChunks,
                "cannot decode stripe \(stripeIndex): \(presentShards.count) of \(geometry.totalShards) chunks "
                    + "available, \(geometry.dataShards) needed"
            )
        }
        try ReedSolomon.code(for: geometry).reconstruct(
            &shards,
            present: presentShards,
            rebuild: ShardMask(first: geometry.dataShards)
        )
        let stored = UnsafeRawBufferPointer(rebasing: shards.leadingShards(geometry.dataShards)[0..<stripe.storedLength])
        guard stripe.flags.contains(.compressed) else {
            return try body(stored.bytes)
        }
        if decompressed.count < stripe.stripeLength {
            decompressed.deallocate()
            decompressed = .allocate(byteCount: stripe.stripeLength, alignment: ShardBuffer.alignment)
        }
        let output = UnsafeMutableRawBufferPointer(rebasing: decompressed[0..<stripe.stripeLength])
        guard LZ4Block.decompress(stored, into: output) == stripe.stripeLength else {
            throw CodingError(.decompressionFailed, "stripe \(stripeIndex) does not decompress to its recorded length")
        }
        return try body(UnsafeRawBufferPointer(output).bytes)
    }
}

/// A chunk header that ``ObjectDecoder/validate(_:ofStripe:of:)`` accepted for one stripe of one
/// object; only that function makes them.
public struct ValidatedChunk: Hashable, Sendable {
    public let header: ChunkHeader
    let object: ObjectDescriptor
}
