import InfiniCoding
import NIOCore
import Testing

@testable import InfiniProxy

/// The proxy's read cache: bounded by bytes, least recently used out first, and never a version
/// other than the one asked for.
@Suite struct ReadCacheTests {
    private static func value(_ length: Int, _ byte: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: byte, count: length))
    }

    @Test func keepsTheMostRecentlyUsedValuesWithinItsCapacity() {
        let cost = 100 + ReadCache.overheadPerValue
        var cache = ReadCache(capacity: 3 * cost, maximumValueLength: 1000)
        for version in 1...3 { cache.insert(Self.value(100, UInt8(version)), version: UInt64(version)) }
        #expect(cache.bytes == 3 * cost)
        #expect(cache.value(of: 1) == Self.value(100, 1))
        cache.insert(Self.value(100, 4), version: 4)
        #expect(cache.value(of: 2) == nil, "version 2 was the least recently used")
        #expect(cache.value(of: 1) == Self.value(100, 1))
        #expect(cache.value(of: 3) == Self.value(100, 3))
        #expect(cache.value(of: 4) == Self.value(100, 4))
        #expect(cache.bytes == 3 * cost)
        #expect(cache.hits == 4)
    }

    @Test func evictsAsManyValuesAsALargerOneNeeds() {
        let cost = 100 + ReadCache.overheadPerValue
        var cache = ReadCache(capacity: 4 * cost, maximumValueLength: 1000)
        for version in 1...4 { cache.insert(Self.value(100, 0), version: UInt64(version)) }
        cache.insert(Self.value(2 * cost + 100, 9), version: 9)
        #expect(cache.count == 2)
        #expect(cache.value(of: 4) != nil)
        #expect(cache.value(of: 9) != nil)
        #expect(cache.bytes <= cache.capacity)
    }

    @Test func ignoresValuesTooLongAndRemovesVersionsOnRequest() {
        var cache = ReadCache(capacity: 10_000, maximumValueLength: 500)
        cache.insert(Self.value(501, 1), version: 1)
        #expect(cache.count == 0)
        cache.insert(Self.value(500, 2), version: 2)
        cache.insert(Self.value(10, 3), version: 3)
        cache.remove(2)
        #expect(cache.value(of: 2) == nil)
        #expect(cache.bytes == 10 + ReadCache.overheadPerValue)
        cache.remove(3)
        #expect(cache.bytes == 0)
        cache.insert(Self.value(10, 4), version: 4)
        #expect(cache.value(of: 4) == Self.value(10, 4), "the list is sound after emptying")
        var off = ReadCache(capacity: 0, maximumValueLength: 500)
        off.insert(Self.value(1, 1), version: 1)
        #expect(off.count == 0)
    }

    @Test func aRandomWorkloadMatchesASimpleModel() {
        let cost = 50 + ReadCache.overheadPerValue
        var cache = ReadCache(capacity: 8 * cost, maximumValueLength: 50)
        var model: [UInt64] = []  // least recently used first
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let version = UInt64.random(in: 0..<20, using: &generator)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0:
                let hit = cache.value(of: version) != nil
                #expect(hit == model.contains(version))
                if hit { model.removeAll { $0 == version }; model.append(version) }
            case 1:
                if !model.contains(version) {
                    cache.insert(Self.value(50, UInt8(version)), version: version)
                    if model.count == 8 { model.removeFirst() }
                    model.append(version)
                }
            default:
                cache.remove(version)
                model.removeAll { $0 == version }
            }
            #expect(cache.count == model.count)
        }
    }
}
