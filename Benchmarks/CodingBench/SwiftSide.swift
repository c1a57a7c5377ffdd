import InfiniCoding
import InfiniCodingReference
import MallocInterposerSwift

// The Swift halves of each case. Like the C halves, each sets up first and times only its loop.

@inline(never)
func blackHole<T>(_ value: T) {}

func filledShards(_ code: ErasureGeometry, fragment: Int) -> ShardBuffer {
    var shards = ShardBuffer(shardCount: code.totalShards, shardLength: fragment)
    for index in 0..<code.totalShards {
        let bytes = SampleData.random(fragment, seed: UInt64(index) + 1)
        shards.copyIntoShard(index, from: bytes.span.bytes)
    }
    return shards
}

/// `fragmentOffset` lengthens each shard so shards start off the 64-byte grid.
func swiftEncode(_ code: ErasureGeometry, fragment: Int, iterations: Int, fragmentOffset: Int) -> Double {
    var shards = filledShards(code, fragment: fragment + fragmentOffset)
    let reedSolomon = ReedSolomon.code(for: code)
    let start = ContinuousClock.now
    for _ in 0..<iterations { reedSolomon.encode(&shards) }
    return seconds(since: start)
}

func swiftDecode(_ code: ErasureGeometry, fragment: Int, lost: Int, iterations: Int) -> Double {
    var shards = filledShards(code, fragment: fragment)
    let reedSolomon = ReedSolomon.code(for: code)
    let lostShards = ShardMask(first: lost)
    let present = code.allShards.subtracting(lostShards)
    try! reedSolomon.reconstruct(&shards, present: present, rebuild: lostShards)
    let start = ContinuousClock.now
    for _ in 0..<iterations { try! reedSolomon.reconstruct(&shards, present: present, rebuild: lostShards) }
    return seconds(since: start)
}

func swiftChunkEncode(_ code: ErasureGeometry, object: [UInt8], iterations: Int) -> Double {
    var encoder = ObjectEncoder()
    let descriptor = encoder.descriptor(keyHash: 1, version: 1, length: object.count, geometry: code)
    let bytes = object.span.bytes
    encoder.encodeStripe(0, of: descriptor, bytes: bytes)
    let start = ContinuousClock.now
    for _ in 0..<iterations { encoder.encodeStripe(0, of: descriptor, bytes: bytes) }
    return seconds(since: start)
}

/// Encoded chunks of a one-stripe object, header and payload together.
func encodedChunks(_ code: ErasureGeometry, object: [UInt8]) -> (ObjectDescriptor, [[UInt8]]) {
    var encoder = ObjectEncoder()
    let descriptor = encoder.descriptor(keyHash: 1, version: 1, length: object.count, geometry: code)
    var chunks = [[UInt8]]()
    encoder.encode(object.span.bytes, as: descriptor) { header, payload in
        var chunk = header.encodedBytes
        payload.withUnsafeBytes { chunk.append(contentsOf: $0) }
        chunks.append(chunk)
    }
    return (descriptor, chunks)
}

func swiftChunkDecode(_ code: ErasureGeometry, object: [UInt8], lost: Int, iterations: Int) -> Double {
    let (descriptor, chunks) = encodedChunks(code, object: object)
    var decoder = ObjectDecoder()
    func decodeOnce() {
        decoder.beginStripe(0, of: descriptor)
        for chunk in chunks.dropFirst(lost) { try! decoder.addChunk(chunk.span.bytes) }
        try! decoder.finishStripe { blackHole($0.byteCount) }
    }
    decodeOnce()
    let start = ContinuousClock.now
    for _ in 0..<iterations { decodeOnce() }
    return seconds(since: start)
}

func swiftCompress(_ input: [UInt8], iterations: Int) -> (seconds: Double, block: [UInt8]) {
    var block = [UInt8](repeating: 0, count: LZ4Block.maximumCompressedLength(input.count))
    var length = 0
    var span = block.mutableSpan
    var bytes = span.mutableBytes
    let source = input.span.bytes
    let start = ContinuousClock.now
    for _ in 0..<iterations { length = try! LZ4Block.compress(source, into: &bytes) }
    let elapsed = seconds(since: start)
    return (elapsed, Array(block.prefix(length)))
}

func swiftDecompress(_ block: [UInt8], length: Int, iterations: Int) -> Double {
    var output = [UInt8](repeating: 0, count: length)
    var span = output.mutableSpan
    var bytes = span.mutableBytes
    let source = block.span.bytes
    let start = ContinuousClock.now
    for _ in 0..<iterations { precondition(try! LZ4Block.decompress(source, into: &bytes) == length) }
    return seconds(since: start)
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = start.duration(to: .now)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// Mallocs per object on each hot path after a warm-up pass, or nil if the interposer is not
/// counting (checked by allocating a buffer under the hook first).
func countAllocations(_ code: ErasureGeometry, size: Int, iterations: Int) -> (
    encode: Double, decode: Double, chunkEncode: Double, chunkDecode: Double
)? {
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.hook()
    blackHole([UInt8](repeating: 1, count: 100_000))
    MallocInterposerSwift.unhook()
    guard MallocInterposerSwift.getStatistics().mallocCount > 0 else { return nil }

    /// Runs `body` once to warm up (lazy metadata, buffer growth), then counts a second run.
    func count(_ body: () -> Void) -> Double {
        body()
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        body()
        MallocInterposerSwift.unhook()
        return Double(MallocInterposerSwift.getStatistics().mallocCount) / Double(iterations)
    }

    let fragment = ShardBuffer.paddedLength((size + code.dataShards - 1) / code.dataShards)
    let reedSolomon = ReedSolomon.code(for: code)
    var shards = filledShards(code, fragment: fragment)
    let encode = count { for _ in 0..<iterations { reedSolomon.encode(&shards) } }

    let lostShards = ShardMask(first: 2)
    let present = code.allShards.subtracting(lostShards)
    let decode = count {
        for _ in 0..<iterations { try! reedSolomon.reconstruct(&shards, present: present, rebuild: lostShards) }
    }

    let object = SampleData.text(size, seed: 41)
    var encoder = ObjectEncoder()
    let descriptor = encoder.descriptor(keyHash: 1, version: 1, length: object.count, geometry: code)
    let bytes = object.span.bytes
    let chunkEncode = count {
        for _ in 0..<iterations {
            encoder.encodeStripe(0, of: descriptor, bytes: bytes)
            for shard in 0..<code.totalShards {
                encoder.withChunk(shard) { header, payload in
                    header.withEncodedBytes { blackHole($0.byteCount + payload.byteCount) }
                }
            }
        }
    }

    let (_, chunks) = encodedChunks(code, object: object)
    var decoder = ObjectDecoder()
    let chunkDecode = count {
        for _ in 0..<iterations {
            decoder.beginStripe(0, of: descriptor)
            for chunk in chunks.dropFirst(2) { try! decoder.addChunk(chunk.span.bytes) }
            try! decoder.finishStripe { blackHole($0.byteCount) }
        }
    }
    return (encode, decode, chunkEncode, chunkDecode)
}
