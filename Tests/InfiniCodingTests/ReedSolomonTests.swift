import InfiniCoding
import InfiniCodingReference
import Testing

@Suite struct ReedSolomonTests {
    static let geometries: [(Int, Int)] = [(1, 0), (1, 2), (2, 1), (4, 2), (10, 2), (10, 4), (20, 4), (32, 8)]

    /// Fills the data shards with random bytes, encodes, and returns every shard's bytes.
    static func encode(_ shards: inout ShardBuffer, _ geometry: ErasureGeometry, length: Int, seed: UInt64) -> [[UInt8]] {
        shards.resize(shardCount: geometry.totalShards, shardLength: length)
        for index in 0..<geometry.dataShards {
            let bytes = SampleData.random(length, seed: seed &+ UInt64(index))
            shards.copyIntoShard(index, from: bytes.span.bytes)
        }
        ReedSolomon.code(for: geometry).encode(&shards)
        return (0..<geometry.totalShards).map { shards.bytes(of: $0) }
    }

    @Test(arguments: geometries)
    func parityMatchesTheScalarOracle(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        let oracle = ScalarReedSolomon(dataShards: data, parityShards: parity)
        for length in [1, 63, 64, 100, 4096] {
            var buffer = ShardBuffer(shardCount: 1)
            let shards = Self.encode(&buffer, geometry, length: length, seed: UInt64(length))
            let expected = oracle.parity(for: Array(shards[0..<data]))
            #expect(Array(shards[data...]) == expected, "parity of \(geometry) at \(length) bytes")
        }
    }

    @Test(arguments: geometries)
    func generatorMatchesTheOracle(data: Int, parity: Int) throws {
        let code = ReedSolomon(geometry: try ErasureGeometry(dataShards: data, parityShards: parity))
        let oracle = ScalarReedSolomon(dataShards: data, parityShards: parity)
        for row in 0..<(data + parity) {
            #expect(code.generatorRow(row) == Array(oracle.generator[row * data..<(row + 1) * data]))
        }
    }

    /// All 1,470 patterns of one to four lost chunks of 10+4, each rebuilding every lost chunk.
    @Test func everyErasurePatternOf10Plus4() throws {
        let geometry = try ErasureGeometry(dataShards: 10, parityShards: 4)
        let code = ReedSolomon.code(for: geometry)
        var shards = ShardBuffer(shardCount: 1)
        let original = Self.encode(&shards, geometry, length: 192, seed: 7)
        var checked = 0
        for lostCount in 1...4 {
            for lost in combinations(14, lostCount) {
                for index in lost {
                    shards.overwrite(index, with: 0xEE)
                }
                let lostMask = ShardMask(lost)
                try code.reconstruct(&shards, present: geometry.allShards.subtracting(lostMask), rebuild: lostMask)
                for index in lost {
                    let rebuilt = shards.bytes(of: index)
                    #expect(rebuilt == original[index], "shard \(index) of lost set \(lost)")
                    if rebuilt != original[index] { return }
                }
                checked += 1
            }
        }
        #expect(checked == 14 + 91 + 364 + 1001)
    }

    @Test(arguments: geometries)
    func randomErasurePatternsAgreeWithTheOracle(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        let code = ReedSolomon.code(for: geometry)
        let oracle = ScalarReedSolomon(dataShards: data, parityShards: parity)
        var generator = SplitMix64(seed: UInt64(data * 100 + parity))
        var shards = ShardBuffer(shardCount: 1)
        let original = Self.encode(&shards, geometry, length: 320, seed: 99)
        for _ in 0..<50 {
            let lostCount = parity == 0 ? 0 : Int(generator.next() % UInt64(parity + 1))
            let lost = Array((0..<geometry.totalShards).shuffled(using: &generator).prefix(lostCount))
            for index in lost {
                shards.overwrite(index, with: 0)
            }
            let lostMask = ShardMask(lost)
            try code.reconstruct(&shards, present: geometry.allShards.subtracting(lostMask), rebuild: lostMask)
            let rebuilt = (0..<geometry.totalShards).map { shards.bytes(of: $0) }
            #expect(rebuilt == original, "lost \(lost)")
            let oracleInput = original.enumerated().map { lost.contains($0.offset) ? nil : $0.element }
            #expect(oracle.reconstruct(oracleInput) == original)
        }
    }

    @Test(arguments: geometries)
    func moreThanParityLostIsAClearError(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        var shards = ShardBuffer(shardCount: 1)
        _ = Self.encode(&shards, geometry, length: 64, seed: 1)
        let present = ShardMask(Array(0..<geometry.totalShards).suffix(data - 1))
        do {
            try ReedSolomon.code(for: geometry).reconstruct(&shards, present: present, rebuild: geometry.allShards)
            Issue.record("decoding from \(data - 1) of \(geometry.totalShards) chunks must fail")
        } catch {
            #expect(error.code == .tooFewChunks)
            #expect(error.message == "cannot decode: \(data - 1) of \(data + parity) chunks available, \(data) needed")
        }
    }

    @Test func decodingTablesAreReusedAcrossCalls() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let code = ReedSolomon.code(for: geometry)
        var shards = ShardBuffer(shardCount: 1)
        let original = Self.encode(&shards, geometry, length: 128, seed: 3)
        for _ in 0..<3 {
            try code.reconstruct(&shards, present: ShardMask([1, 2, 4, 5]), rebuild: ShardMask([0, 3]))
            #expect(shards.bytes(of: 0) == original[0])
            #expect(shards.bytes(of: 3) == original[3])
        }
    }
}
