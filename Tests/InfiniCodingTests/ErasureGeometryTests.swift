import InfiniCoding
import Testing

@Suite struct ErasureGeometryTests {
    @Test(arguments: [(1, 0), (1, 2), (10, 2), (10, 4), (32, 8), (60, 4), (63, 1), (1, 63)])
    func acceptsValidGeometries(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        #expect(geometry.totalShards == data + parity)
        #expect(geometry.description == "\(data)+\(parity)")
        #expect(try ErasureGeometry(geometry.description) == geometry)
    }

    @Test(arguments: [(0, 2), (-1, 2), (2, -1), (60, 5), (64, 1), (0, 0)])
    func rejectsInvalidGeometries(data: Int, parity: Int) {
        #expect(throws: CodingError.self) { try ErasureGeometry(dataShards: data, parityShards: parity) }
        do {
            _ = try ErasureGeometry(dataShards: data, parityShards: parity)
        } catch {
            #expect(error.code == .invalidGeometry)
            #expect(error.message.contains("\(data)+\(parity)"))
        }
    }

    @Test(arguments: ["", "10", "10+", "+2", "a+b", "10+2+1", "10-2", " 10+2"])
    func rejectsMalformedText(text: String) {
        #expect(throws: CodingError.self) { try ErasureGeometry(text) }
    }

    @Test func shardMaskSetOperations() {
        var mask = ShardMask([0, 3, 63])
        #expect(mask.count == 3)
        #expect(Array(mask) == [0, 3, 63])
        #expect(mask.contains(63) && !mask.contains(4) && !mask.contains(64) && !mask.contains(-1))
        mask.remove(3)
        #expect(Array(mask) == [0, 63])
        #expect(ShardMask(first: 64).count == 64)
        #expect(Array(ShardMask(first: 5).lowest(3)) == [0, 1, 2])
        #expect(Array(ShardMask(first: 5).subtracting(ShardMask([1, 2]))) == [0, 3, 4])
    }
}
