import InfiniCoding
import InfiniCodingReference

/// Bitwise CRC32C, the oracle for ISA-L's table/SIMD version.
func scalarCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// One encoded chunk as it would travel to a node: header bytes then payload.
struct EncodedChunk {
    var header: ChunkHeader
    var bytes: [UInt8]
}

/// Encodes `object` into stripes of chunks.
func encodeObject(
    _ object: [UInt8],
    geometry: ErasureGeometry,
    maximumShardLength: Int = ObjectEncoder.defaultMaximumShardLength,
    compression: CompressionPolicy = .default,
    keyHash: UInt64 = 42,
    version: UInt64 = 1
) -> (ObjectDescriptor, [[EncodedChunk]]) {
    var encoder = ObjectEncoder(maximumShardLength: maximumShardLength, compression: compression)
    let descriptor = encoder.descriptor(keyHash: keyHash, version: version, length: object.count, geometry: geometry)
    var stripes = [[EncodedChunk]](repeating: [], count: descriptor.stripeCount)
    encoder.encode(object.span.bytes, as: descriptor) { header, payload in
        var bytes = header.encodedBytes
        payload.withUnsafeBytes { bytes.append(contentsOf: $0) }
        stripes[header.stripeIndex].append(EncodedChunk(header: header, bytes: bytes))
    }
    return (descriptor, stripes)
}

/// Decodes an object from the chunks that `keep` selects in each stripe, in the order given.
func decodeObject(
    _ descriptor: ObjectDescriptor,
    stripes: [[EncodedChunk]],
    keep: (_ stripe: Int, _ shard: Int) -> Bool = { _, _ in true }
) throws -> [UInt8] {
    var decoder = ObjectDecoder()
    var output = [UInt8]()
    output.reserveCapacity(descriptor.length)
    for (index, chunks) in stripes.enumerated() {
        decoder.beginStripe(index, of: descriptor)
        for chunk in chunks where keep(index, chunk.header.shardIndex) {
            try decoder.addChunk(chunk.bytes.span.bytes)
        }
        try decoder.finishStripe { bytes in bytes.withUnsafeBytes { output.append(contentsOf: $0) } }
    }
    return output
}

/// Every subset of `0..<n` with exactly `k` elements.
func combinations(_ n: Int, _ k: Int) -> [[Int]] {
    guard k > 0 else { return [[]] }
    guard k <= n else { return [] }
    var result = [[Int]]()
    var current = [Int]()
    func extend(from start: Int) {
        if current.count == k {
            result.append(current)
            return
        }
        for value in start..<n where n - value >= k - current.count {
            current.append(value)
            extend(from: value + 1)
            current.removeLast()
        }
    }
    extend(from: 0)
    return result
}

extension ShardBuffer {
    /// A copy of shard `index`.
    func bytes(of index: Int) -> [UInt8] {
        withShard(index) { span in span.withUnsafeBytes { Array($0) } }
    }
}

extension ShardBuffer {
    /// Destroys shard `index`, as a lost chunk would be.
    mutating func overwrite(_ index: Int, with byte: UInt8) {
        withMutableShard(index) { span in
            for offset in 0..<span.byteCount { span.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self) }
        }
    }
}

/// Where two byte strings first differ, or nil if they are equal: a failure message that stays
/// readable when the arrays are megabytes long.
func difference(_ actual: [UInt8], _ expected: [UInt8]) -> String? {
    guard actual != expected else { return nil }
    guard actual.count == expected.count else { return "length \(actual.count), expected \(expected.count)" }
    let index = actual.indices.first { actual[$0] != expected[$0] }!
    return "byte \(index) is \(actual[index]), expected \(expected[index])"
}
