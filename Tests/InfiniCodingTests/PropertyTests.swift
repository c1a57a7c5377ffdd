import InfiniCoding
import InfiniCodingReference
import Testing

/// Random geometries, sizes, contents, stripe sizes and loss patterns, each replayable by seed.
@Suite struct PropertyTests {
    @Test(arguments: 0..<40)
    func randomObjectsSurviveAnyAllowedLoss(seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed) &* 7919)
        let data = Int.random(in: 1...16, using: &generator)
        let parity = Int.random(in: 0...min(6, 64 - data), using: &generator)
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        let size = Int.random(in: 0...300_000, using: &generator)
        let object =
            generator.next() % 2 == 0
            ? SampleData.random(size, seed: generator.next()) : SampleData.text(size, seed: generator.next())
        let shardLength = 64 * Int.random(in: 1...512, using: &generator)
        let (descriptor, stripes) = encodeObject(
            object,
            geometry: geometry,
            maximumShardLength: shardLength,
            keyHash: generator.next(),
            version: generator.next()
        )
        let lost = stripes.map { _ in
            Set((0..<geometry.totalShards).shuffled(using: &generator).prefix(Int.random(in: 0...parity, using: &generator)))
        }
        let decoded = try decodeObject(descriptor, stripes: stripes) { stripe, shard in !lost[stripe].contains(shard) }
        #expect(difference(decoded, object) == nil, "seed \(seed): \(geometry), \(size) bytes, shards of \(shardLength)")
    }
}
