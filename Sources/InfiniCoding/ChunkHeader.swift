/// The 64-byte header in front of every chunk's payload.
///
/// It names the object, version, stripe and shard the payload belongs to and carries a CRC32C of
/// the payload and of itself, so a chunk that was corrupted, truncated or delivered for the wrong
/// object is rejected instead of decoded. All integers are little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `ISCK` |
/// | 4 | 1 | format version (1) |
/// | 5 | 1 | flags: bit 0 = payload stripe is LZ4-compressed |
/// | 6 | 1 | data shards `d` |
/// | 7 | 1 | parity shards `p` |
/// | 8 | 1 | shard index |
/// | 9 | 3 | reserved, zero |
/// | 12 | 4 | stripe index |
/// | 16 | 8 | object length |
/// | 24 | 8 | object version |
/// | 32 | 8 | key hash |
/// | 40 | 4 | stripe length: object bytes in this stripe |
/// | 44 | 4 | stored length: the stripe's bytes after compression, before padding |
/// | 48 | 4 | payload length |
/// | 52 | 4 | payload CRC32C |
/// | 56 | 4 | reserved, zero |
/// | 60 | 4 | CRC32C of bytes 0..<60 |
public struct ChunkHeader: Hashable, Sendable {
    public static let size = 64
    public static let formatVersion: UInt8 = 1
    static let magic: (UInt8, UInt8, UInt8, UInt8) = (0x49, 0x53, 0x43, 0x4B)

    /// Per-chunk flags.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The stripe was LZ4-compressed before it was split into shards.
        public static let compressed = Flags(rawValue: 1)
    }

    public var flags: Flags
    public var geometry: ErasureGeometry
    public var shardIndex: Int
    public var stripeIndex: Int
    public var objectLength: Int
    public var objectVersion: UInt64
    public var keyHash: UInt64
    public var stripeLength: Int
    public var storedLength: Int
    public var payloadLength: Int
    public var payloadChecksum: UInt32

    public init(
        flags: Flags,
        geometry: ErasureGeometry,
        shardIndex: Int,
        stripeIndex: Int,
        objectLength: Int,
        objectVersion: UInt64,
        keyHash: UInt64,
        stripeLength: Int,
        storedLength: Int,
        payloadLength: Int,
        payloadChecksum: UInt32
    ) {
        self.flags = flags
        self.geometry = geometry
        self.shardIndex = shardIndex
        self.stripeIndex = stripeIndex
        self.objectLength = objectLength
        self.objectVersion = objectVersion
        self.keyHash = keyHash
        self.stripeLength = stripeLength
        self.storedLength = storedLength
        self.payloadLength = payloadLength
        self.payloadChecksum = payloadChecksum
    }

    /// Parses and checks a header: magic, version, its own checksum and internal consistency.
    /// The payload is not checked; see ``validate(chunk:)``.
    ///
    /// - Throws: ``CodingError/Code/invalidChunk``.
    public init(parsing bytes: RawSpan) throws(CodingError) {
        guard bytes.byteCount >= Self.size else {
            throw CodingError(.invalidChunk, "truncated chunk: \(bytes.byteCount) bytes, header needs \(Self.size)")
        }
        let header = bytes.extracting(0..<Self.size)
        func byte(_ offset: Int) -> UInt8 { header.unsafeLoad(fromByteOffset: offset, as: UInt8.self) }
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: header.unsafeLoadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: header.unsafeLoadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

        guard (byte(0), byte(1), byte(2), byte(3)) == Self.magic else {
            throw CodingError(.invalidChunk, "not a chunk: bad magic")
        }
        guard byte(4) == Self.formatVersion else {
            throw CodingError(.invalidChunk, "unsupported chunk format version \(byte(4))")
        }
        guard CRC32C.checksum(header.extracting(0..<60)) == u32(60) else {
            throw CodingError(.invalidChunk, "chunk header checksum mismatch")
        }
        let geometry: ErasureGeometry
        do {
            geometry = try ErasureGeometry(dataShards: Int(byte(6)), parityShards: Int(byte(7)))
        } catch {
            throw CodingError(.invalidChunk, "chunk header has an \(error.message)")
        }
        let flags = Flags(rawValue: byte(5))
        let shardIndex = Int(byte(8))
        let stripeLength = Int(u32(40))
        let storedLength = Int(u32(44))
        let payloadLength = Int(u32(48))
        guard flags.subtracting(.compressed).isEmpty, shardIndex < geometry.totalShards,
            u64(16) <= UInt64(Int.max), stripeLength <= Int(u64(16)),
            flags.contains(.compressed) ? storedLength < stripeLength : storedLength == stripeLength,
            payloadLength == Self.payloadLength(storedLength: storedLength, dataShards: geometry.dataShards)
        else {
            throw CodingError(.invalidChunk, "chunk header fields are inconsistent")
        }
        self.init(
            flags: flags,
            geometry: geometry,
            shardIndex: shardIndex,
            stripeIndex: Int(u32(12)),
            objectLength: Int(u64(16)),
            objectVersion: u64(24),
            keyHash: u64(32),
            stripeLength: stripeLength,
            storedLength: storedLength,
            payloadLength: payloadLength,
            payloadChecksum: u32(52)
        )
    }

    /// Parses the header of a whole chunk (header then payload) and checks the payload's length
    /// and CRC32C.
    ///
    /// - Throws: ``CodingError/Code/invalidChunk`` or ``CodingError/Code/checksumMismatch``.
    public static func validate(chunk: RawSpan) throws(CodingError) -> ChunkHeader {
        let header = try ChunkHeader(parsing: chunk)
        guard chunk.byteCount - size == header.payloadLength else {
            throw CodingError(
                .invalidChunk,
                "chunk payload is \(chunk.byteCount - size) bytes, header says \(header.payloadLength)"
            )
        }
        guard CRC32C.checksum(chunk.extracting(size...)) == header.payloadChecksum else {
            throw CodingError(.checksumMismatch, "chunk payload checksum mismatch: the chunk is corrupted")
        }
        return header
    }

    /// The shard length for a stripe stored in `storedLength` bytes: an equal share of it per data
    /// shard, padded to ``ShardBuffer/alignment``.
    public static func payloadLength(storedLength: Int, dataShards: Int) -> Int {
        ShardBuffer.paddedLength((storedLength + dataShards - 1) / dataShards)
    }

    /// Calls `body` with the 64 encoded bytes, built on the stack.
    public func withEncodedBytes<Result: ~Copyable, Failure: Error>(
        _ body: (RawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeTemporaryAllocation(byteCount: Self.size, alignment: 8) { (raw) throws(Failure) -> Result in
            encode(into: raw)
            return try body(UnsafeRawBufferPointer(raw).bytes)
        }
    }

    /// The 64 encoded bytes in a new array.
    public var encodedBytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.size) { buffer, count in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.size
        }
    }

    func encode(into raw: UnsafeMutableRawBufferPointer) {
        precondition(raw.count >= Self.size, "header buffer too small")
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        raw[0] = Self.magic.0
        raw[1] = Self.magic.1
        raw[2] = Self.magic.2
        raw[3] = Self.magic.3
        raw[4] = Self.formatVersion
        raw[5] = flags.rawValue
        raw[6] = UInt8(geometry.dataShards)
        raw[7] = UInt8(geometry.parityShards)
        raw[8] = UInt8(shardIndex)
        raw.storeBytes(of: UInt32(stripeIndex).littleEndian, toByteOffset: 12, as: UInt32.self)
        raw.storeBytes(of: UInt64(objectLength).littleEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: objectVersion.littleEndian, toByteOffset: 24, as: UInt64.self)
        raw.storeBytes(of: keyHash.littleEndian, toByteOffset: 32, as: UInt64.self)
        raw.storeBytes(of: UInt32(stripeLength).littleEndian, toByteOffset: 40, as: UInt32.self)
        raw.storeBytes(of: UInt32(storedLength).littleEndian, toByteOffset: 44, as: UInt32.self)
        raw.storeBytes(of: UInt32(payloadLength).littleEndian, toByteOffset: 48, as: UInt32.self)
        raw.storeBytes(of: payloadChecksum.littleEndian, toByteOffset: 52, as: UInt32.self)
        let headerChecksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<60]))
        raw.storeBytes(of: headerChecksum.littleEndian, toByteOffset: 60, as: UInt32.self)
    }
}
