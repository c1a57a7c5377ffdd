import InfiniCoding
import InfiniMetadata
import MetadataTestSupport
import Testing

/// Records at the edges of every field's range.
let edgeRecords: [MetadataRecord] = {
    func metadata(
        _ data: Int,
        _ parity: Int,
        version: UInt64,
        length: Int,
        stripe: Int,
        node: Int,
        expiresAt: Int64?
    ) -> KeyMetadata {
        let geometry = try! ErasureGeometry(dataShards: data, parityShards: parity)
        let descriptor = ObjectDescriptor(
            keyHash: ~version,
            version: version,
            length: length,
            geometry: geometry,
            stripeLength: stripe
        )
        return KeyMetadata(
            descriptor: descriptor,
            placement: Array(repeating: node, count: geometry.totalShards),
            expiresAt: expiresAt
        )
    }
    let longKey = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    return [
        .commit(key: [], entry: metadata(1, 0, version: 0, length: 0, stripe: 1, node: 0, expiresAt: nil)),
        .commit(key: [0], entry: metadata(64, 0, version: .max, length: .max, stripe: Int(UInt32.max), node: Int(UInt32.max), expiresAt: .min)),
        .commit(key: longKey, entry: metadata(1, 63, version: 1, length: 1, stripe: 7, node: 5, expiresAt: .max)),
        .commit(key: Array("user:1000".utf8), entry: metadata(10, 4, version: 42, length: 1 << 40, stripe: 1 << 20, node: 3, expiresAt: 0)),
        .commit(key: [0xFF, 0x00, 0x80], entry: sampleMetadata(version: 12_345)),
        .remove(key: [], version: 0),
        .remove(key: longKey, version: .max),
        .expiry(key: [1, 2, 3], version: 7, expiresAt: nil),
        .expiry(key: [1, 2, 3], version: .max, expiresAt: .min),
        .expiry(key: [], version: 0, expiresAt: .max),
        .removeAll,
        .reserveVersions(through: 0),
        .reserveVersions(through: .max),
    ]
}()

@Suite struct MetadataRecordTests {
    @Test func edgeValuesRoundTrip() throws {
        for record in edgeRecords {
            let bytes = record.encoded()
            #expect(try MetadataRecord(decoding: bytes[...]) == record)
        }
    }

    @Test func sampleRecordsRoundTrip() throws {
        var workload = Workload(seed: 1)
        for _ in 0..<5_000 {
            let record = workload.nextRecord()
            #expect(try MetadataRecord(decoding: record.encoded()[...]) == record)
        }
    }

    /// The layout is the documented one: format, kind, length-prefixed key, little-endian.
    @Test func encodingIsLittleEndianAndVersioned() throws {
        let remove = MetadataRecord.remove(key: [0x61, 0x62], version: 0x0102_0304_0506_0708)
        #expect(remove.encoded() == [1, 2, 2, 0, 0, 0, 0x61, 0x62, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(MetadataRecord.removeAll.encoded() == [1, 4])
        let expiry: [UInt8] = [1, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(MetadataRecord.expiry(key: [], version: 1, expiresAt: -2).encoded() == expiry)
    }

    @Test func everyTruncationIsRejected() {
        for record in edgeRecords where record.encoded().count < 1_000 {
            let bytes = record.encoded()
            for length in 0..<bytes.count {
                #expect(throws: MetadataLogError.self) { try MetadataRecord(decoding: bytes[0..<length]) }
            }
            #expect(throws: MetadataLogError.self) { try MetadataRecord(decoding: (bytes + [0])[...]) }
        }
    }

    @Test func unknownFormatKindAndFlagsAreRejected() {
        let bytes = MetadataRecord.expiry(key: [9], version: 3, expiresAt: nil).encoded()
        for (index, value) in [(0, UInt8(2)), (0, 0), (1, 0), (1, 6), (1, 0x80), (15, 2)] {
            var damaged = bytes
            damaged[index] = value
            #expect(throws: MetadataLogError.self) { try MetadataRecord(decoding: damaged[...]) }
        }
    }

    @Test func outOfRangeMetadataIsRejected() throws {
        let record = MetadataRecord.commit(key: [], entry: sampleMetadata(version: 10))
        let metadataStart = 6
        // Object length above Int.max, stripe length 0, geometry 0+0 and 65+0.
        let cases: [(offset: Int, bytes: [UInt8])] = [
            (metadataStart + 16, [0, 0, 0, 0, 0, 0, 0, 0x80]),
            (metadataStart + 24, [0, 0, 0, 0]),
            (metadataStart + 28, [0, 0]),
            (metadataStart + 28, [65, 0]),
        ]
        for (offset, replacement) in cases {
            var damaged = record.encoded()
            damaged.replaceSubrange(offset..<(offset + replacement.count), with: replacement)
            #expect(throws: MetadataLogError.self) { try MetadataRecord(decoding: damaged[...]) }
        }
        var hugeKey = MetadataRecord.remove(key: [], version: 1).encoded()
        hugeKey.replaceSubrange(2..<6, with: [0xFF, 0xFF, 0xFF, 0xFF])
        let error = try #require(throws: MetadataLogError.self) { try MetadataRecord(decoding: hugeKey[...]) }
        #expect(error.code == .invalidRecord)
    }

    /// Damaged bytes either fail to decode or decode to a record that encodes back to exactly
    /// those bytes: the decoder accepts one spelling per record and never traps.
    @Test func randomDamageNeverCrashesAndDecodingIsCanonical() {
        var generator = SeededGenerator(seed: 7)
        var workload = Workload(seed: 8)
        var decoded = 0
        for _ in 0..<20_000 {
            var bytes = workload.nextRecord().encoded()
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                case 1: bytes.removeLast(Int.random(in: 0...min(3, bytes.count - 1), using: &generator))
                default: bytes.append(UInt8.random(in: 0...255, using: &generator))
                }
            }
            if let record = try? MetadataRecord(decoding: bytes[...]) {
                #expect(record.encoded() == bytes)
                decoded += 1
            }
        }
        for _ in 0..<20_000 {
            let noise = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if let record = try? MetadataRecord(decoding: noise[...]) { #expect(record.encoded() == noise) }
        }
        // Flips inside keys and most metadata fields still decode; the property was exercised.
        #expect(decoded > 1_000)
    }

    @Test func stateAppliesRecordsByVersion() {
        let key: [UInt8] = [1]
        var state = MetadataState()
        state.apply(.commit(key: key, entry: sampleMetadata(version: 5)))
        state.apply(.remove(key: key, version: 4))
        state.apply(.expiry(key: key, version: 4, expiresAt: 99))
        #expect(state.entries[key] == sampleMetadata(version: 5))
        state.apply(.expiry(key: key, version: 5, expiresAt: 99))
        #expect(state.entries[key]?.expiresAt == 99)
        state.apply(.commit(key: key, entry: sampleMetadata(version: 6)))
        state.apply(.remove(key: key, version: 5))
        #expect(state.entries[key]?.version == 6)
        state.apply(.remove(key: key, version: 6))
        #expect(state.entries[key] == nil)
        state.apply(.commit(key: [2], entry: sampleMetadata(version: 7)))
        state.apply(.reserveVersions(through: 100))
        state.apply(.removeAll)
        #expect(state.entries.isEmpty)
        #expect(state.highestVersion == 100)
    }
}
