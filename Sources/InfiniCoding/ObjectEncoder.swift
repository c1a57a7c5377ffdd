/// Turns object bytes into chunks: per stripe, optionally LZ4-compress, split into `d` padded data
/// shards, compute `p` parity shards, and checksum each.
///
/// An encoder is reused across objects; its buffers grow to the largest stripe seen and are then
/// reused, so encoding allocates nothing per chunk after warm-up. One encoder per task.
public struct ObjectEncoder: ~Copyable {
    /// The default cap on one shard of one stripe, which bounds coding memory per request.
    public static let defaultMaximumShardLength = 1 << 20

    public let maximumShardLength: Int
    public var compression: CompressionPolicy

    private var shards: ShardBuffer
    private var compressed: UnsafeMutableRawBufferPointer
    private var checksums: [UInt32]
    private var current: ChunkHeader?

    public init(maximumShardLength: Int = defaultMaximumShardLength, compression: CompressionPolicy = .default) {
        precondition(
            maximumShardLength > 0 && maximumShardLength % ShardBuffer.alignment == 0,
            "maximum shard length must be a positive multiple of \(ShardBuffer.alignment)"
        )
        self.maximumShardLength = maximumShardLength
        self.compression = compression
        self.shards = ShardBuffer(shardCount: 1)
        self.compressed = .allocate(byteCount: 0, alignment: ShardBuffer.alignment)
        self.checksums = [UInt32](repeating: 0, count: ErasureGeometry.maximumShards)
        self.current = nil
    }

    deinit {
        compressed.deallocate()
    }

    /// The descriptor of an object of `length` bytes encoded by this encoder with `geometry`.
    public func descriptor(keyHash: UInt64, version: UInt64, length: Int, geometry: ErasureGeometry) -> ObjectDescriptor {
        ObjectDescriptor(
            keyHash: keyHash,
            version: version,
            length: length,
            geometry: geometry,
            stripeLength: geometry.stripeLength(maximumShardLength: maximumShardLength)
        )
    }

    /// Encodes stripe `index` of `object` from exactly the object bytes of that stripe. Its chunks
    /// are then available through ``withChunk(_:_:)`` until the next call.
    public mutating func encodeStripe(_ index: Int, of object: ObjectDescriptor, bytes: RawSpan) {
        encodeStripe(index, of: object) { copy in copy(bytes) }
    }

    /// Encodes stripe `index` of `object` from the object bytes of that stripe given in pieces:
    /// `pieces` passes each piece, in order, to the function it is given, and together they are
    /// exactly the stripe's bytes. A value that arrived in many reads is thus coded without
    /// first being copied into one buffer. Its chunks are then available through
    /// ``withChunk(_:_:)`` until the next call.
    public mutating func encodeStripe(_ index: Int, of object: ObjectDescriptor, pieces: ((RawSpan) -> Void) -> Void) {
        let length = object.byteRange(ofStripe: index).count
        precondition(
            object.stripeLength <= object.geometry.stripeLength(maximumShardLength: maximumShardLength),
            "descriptor stripes are larger than this encoder's shards"
        )
        let dataShards = object.geometry.dataShards
        // The bytes land in the data shards, where they stay unless compressing them pays.
        shards.resize(
            shardCount: object.geometry.totalShards,
            shardLength: ChunkHeader.payloadLength(storedLength: length, dataShards: dataShards))
        let data = shards.leadingShards(dataShards)
        var filled = 0
        pieces { piece in
            piece.withUnsafeBytes { source in
                precondition(source.count <= length - filled, "stripe pieces longer than the stripe")
                if let base = source.baseAddress { (data.baseAddress! + filled).copyMemory(from: base, byteCount: source.count) }
                filled += source.count
            }
        }
        precondition(filled == length, "stripe pieces do not match the descriptor")
        codeStripe(index, of: object, length: length)
    }

    /// Compresses the `length` bytes at the start of the data shards if that pays, then pads
    /// them, computes the parity shards and checksums every shard.
    private mutating func codeStripe(_ index: Int, of object: ObjectDescriptor, length: Int) {
        let geometry = object.geometry
        var flags = ChunkHeader.Flags()
        var storedLength = length
        if compression.isEnabled, length >= compression.minimumLength {
            let bound = max(LZ4Block.maximumCompressedLength(length), compression.scratchLength)
            if compressed.count < bound {
                compressed.deallocate()
                compressed = .allocate(byteCount: bound, alignment: ShardBuffer.alignment)
            }
            let raw = UnsafeRawBufferPointer(start: shards.leadingShards(geometry.dataShards).baseAddress, count: length)
            if compression.looksCompressible(raw, scratch: compressed),
                let compressedLength = LZ4Block.compress(raw, into: compressed),
                compression.keepsCompressed(length: length, compressedLength: compressedLength)
            {
                storedLength = compressedLength
                flags.insert(.compressed)
            }
        }
        let payloadLength = ChunkHeader.payloadLength(storedLength: storedLength, dataShards: geometry.dataShards)
        shards.resize(shardCount: geometry.totalShards, shardLength: payloadLength)
        let data = shards.leadingShards(geometry.dataShards)
        if flags.contains(.compressed) { data.baseAddress!.copyMemory(from: compressed.baseAddress!, byteCount: storedLength) }
        UnsafeMutableRawBufferPointer(rebasing: data[storedLength...]).initializeMemory(as: UInt8.self, repeating: 0)
        ReedSolomon.code(for: geometry).encode(&shards)
        for shard in 0..<geometry.totalShards {
            checksums[shard] = CRC32C.checksum(
                UnsafeRawBufferPointer(start: shards.shardAddress(shard), count: payloadLength)
            )
        }
        current = ChunkHeader(
            flags: flags,
            geometry: geometry,
            shardIndex: 0,
            stripeIndex: index,
            objectLength: object.length,
            objectVersion: object.version,
            keyHash: object.keyHash,
            stripeLength: length,
            storedLength: storedLength,
            payloadLength: payloadLength,
            payloadChecksum: 0
        )
    }

    /// Calls `body` with the header and payload of chunk `shard` of the last encoded stripe.
    public func withChunk<Result: ~Copyable, Failure: Error>(
        _ shard: Int,
        _ body: (ChunkHeader, RawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        guard var header = current else { preconditionFailure("no stripe has been encoded") }
        precondition(shard >= 0 && shard < header.geometry.totalShards, "shard index out of range")
        header.shardIndex = shard
        header.payloadChecksum = checksums[shard]
        return try shards.withShard(shard) { (payload) throws(Failure) -> Result in try body(header, payload) }
    }

    /// Encodes a whole in-memory object, calling `body` for every chunk, stripe by stripe.
    public mutating func encode<Failure: Error>(
        _ object: RawSpan,
        as descriptor: ObjectDescriptor,
        _ body: (ChunkHeader, RawSpan) throws(Failure) -> Void
    ) throws(Failure) {
        precondition(object.byteCount == descriptor.length, "object bytes do not match the descriptor")
        for stripe in 0..<descriptor.stripeCount {
            let range = descriptor.byteRange(ofStripe: stripe)
            encodeStripe(stripe, of: descriptor, bytes: object.extracting(range))
            for shard in 0..<descriptor.geometry.totalShards {
                try withChunk(shard, body)
            }
        }
    }
}
