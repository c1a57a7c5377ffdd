import InfiniCoding
import InfiniCodingReference
import Testing

@Suite struct ObjectCodecTests {
    static let geometries: [(Int, Int)] = [(1, 0), (1, 2), (2, 1), (4, 2), (10, 2), (10, 4), (20, 4), (32, 8)]
    /// Shared across tests: generating 64 MiB in a debug build is the slow part.
    static let large = SampleData.random(64 << 20 + 13, seed: 64)

    static func sizes(_ data: Int) -> [Int] {
        [0, 1, max(0, data - 1), data, data + 1, 4095, 4096, 4097, 1 << 20]
    }

    @Test(arguments: geometries)
    func roundTripsEverySize(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        for size in Self.sizes(data) {
            let object = Array(Self.large.prefix(size))
            let (descriptor, stripes) = encodeObject(object, geometry: geometry)
            #expect(stripes.allSatisfy { $0.count == geometry.totalShards })
            #expect(difference(try decodeObject(descriptor, stripes: stripes), object) == nil, "\(geometry), \(size) bytes")
            // The last `p` chunks of each stripe lost: decoding must use parity.
            let degraded = try decodeObject(descriptor, stripes: stripes) { _, shard in shard >= parity }
            #expect(difference(degraded, object) == nil, "\(geometry), \(size) bytes, first \(parity) chunks lost")
        }
    }

    @Test(arguments: geometries)
    func roundTrips64MiBPlus13InStripes(data: Int, parity: Int) throws {
        let geometry = try ErasureGeometry(dataShards: data, parityShards: parity)
        let (descriptor, stripes) = encodeObject(Self.large, geometry: geometry)
        #expect(descriptor.stripeCount == (Self.large.count + data << 20 - 1) / (data << 20))
        #expect(stripes.allSatisfy { stripe in stripe.allSatisfy { $0.header.payloadLength <= 1 << 20 } })
        var generator = SplitMix64(seed: UInt64(data))
        let lost = stripes.map { _ in Set((0..<geometry.totalShards).shuffled(using: &generator).prefix(parity)) }
        let decoded = try decodeObject(descriptor, stripes: stripes) { stripe, shard in !lost[stripe].contains(shard) }
        #expect(difference(decoded, Self.large) == nil)
    }

    @Test func compressibleStripesAreStoredCompressed() throws {
        let geometry = try ErasureGeometry(dataShards: 10, parityShards: 2)
        let object = SampleData.text(3 << 20, seed: 9)
        let (descriptor, stripes) = encodeObject(object, geometry: geometry, maximumShardLength: 256 << 10)
        #expect(descriptor.stripeCount == 2)
        for stripe in stripes {
            #expect(stripe[0].header.flags.contains(.compressed))
            #expect(stripe[0].header.storedLength < stripe[0].header.stripeLength * 3 / 4)
        }
        #expect(difference(try decodeObject(descriptor, stripes: stripes) { _, shard in shard % 6 != 0 }, object) == nil)
    }

    @Test func incompressibleStripesAreStoredRaw() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let object = SampleData.random(1 << 20, seed: 10)
        let (descriptor, stripes) = encodeObject(object, geometry: geometry)
        #expect(!stripes[0][0].header.flags.contains(.compressed))
        #expect(stripes[0][0].header.storedLength == object.count)
        #expect(difference(try decodeObject(descriptor, stripes: stripes), object) == nil)
    }

    /// A stripe given in pieces (a value as it arrived, read by read) is coded byte for byte as
    /// the same stripe given whole, compressed or not, however it is cut.
    @Test(arguments: [false, true])
    func stripesGivenInPiecesAreCodedAsWhole(compressible: Bool) throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let object = compressible ? SampleData.text(3 << 20 + 5, seed: 11) : SampleData.random(3 << 20 + 5, seed: 12)
        let (descriptor, whole) = encodeObject(object, geometry: geometry, maximumShardLength: 512 << 10)
        #expect(whole[0][0].header.flags.contains(.compressed) == compressible)
        var generator = SplitMix64(seed: 13)
        for maximumPiece in [1, 4096, 65536, 1 << 20] {
            var encoder = ObjectEncoder(maximumShardLength: 512 << 10)
            for stripe in 0..<descriptor.stripeCount {
                let range = descriptor.byteRange(ofStripe: stripe)
                var cuts = [range.lowerBound]
                while let last = cuts.last, last < range.upperBound {
                    cuts.append(min(range.upperBound, last + Int.random(in: 0...maximumPiece, using: &generator)))
                }
                encoder.encodeStripe(stripe, of: descriptor) { copy in
                    for (start, end) in zip(cuts, cuts.dropFirst()) { copy(object.span.bytes.extracting(start..<end)) }
                }
                for shard in 0..<geometry.totalShards {
                    let bytes = encoder.withChunk(shard) { header, payload in
                        var bytes = header.encodedBytes
                        payload.withUnsafeBytes { bytes.append(contentsOf: $0) }
                        return bytes
                    }
                    #expect(bytes == whole[stripe][shard].bytes, "pieces up to \(maximumPiece) bytes, stripe \(stripe), shard \(shard)")
                }
            }
        }
    }

    @Test func replicationWithOneDataShardStoresCopies() throws {
        let geometry = try ErasureGeometry(dataShards: 1, parityShards: 2)
        let object = SampleData.random(1000, seed: 11)
        let (_, stripes) = encodeObject(object, geometry: geometry)
        let payloads = stripes[0].map { Array($0.bytes[ChunkHeader.size...]) }
        #expect(payloads[1] == payloads[0] && payloads[2] == payloads[0])
        #expect(Array(payloads[0].prefix(object.count)) == object)
    }

    @Test func tooFewChunksIsAClearError() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let object = SampleData.random(10_000, seed: 12)
        let (descriptor, stripes) = encodeObject(object, geometry: geometry)
        #expect {
            try decodeObject(descriptor, stripes: stripes) { _, shard in shard > 2 }
        } throws: { error in
            (error as? CodingError)?.code == .tooFewChunks
                && (error as? CodingError)?.message == "cannot decode stripe 0: 3 of 6 chunks available, 4 needed"
        }
    }

    /// Adds `chunk` to a decoder of stripe 0 and returns the error it raised.
    static func rejection(of chunk: [UInt8], for descriptor: ObjectDescriptor, stripe: Int = 0) -> CodingError? {
        var decoder = ObjectDecoder()
        decoder.beginStripe(stripe, of: descriptor)
        do {
            try decoder.addChunk(chunk.span.bytes)
            return nil
        } catch {
            #expect(decoder.presentShards.isEmpty, "a rejected chunk must not be kept")
            return error
        }
    }

    @Test func aFlippedPayloadBitIsRejected() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let (descriptor, stripes) = encodeObject(SampleData.random(5000, seed: 13), geometry: geometry)
        for bit in [0, 7, 1000 * 8 + 3] {
            var chunk = stripes[0][1].bytes
            chunk[ChunkHeader.size + bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(Self.rejection(of: chunk, for: descriptor)?.code == .checksumMismatch)
        }
    }

    @Test func aFlippedHeaderBitIsRejected() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let (descriptor, stripes) = encodeObject(SampleData.random(5000, seed: 14), geometry: geometry)
        for byte in 0..<ChunkHeader.size {
            var chunk = stripes[0][2].bytes
            chunk[byte] ^= 0x10
            #expect(Self.rejection(of: chunk, for: descriptor)?.code == .invalidChunk, "byte \(byte)")
        }
    }

    @Test func aTruncatedChunkIsRejected() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let (descriptor, stripes) = encodeObject(SampleData.random(5000, seed: 15), geometry: geometry)
        let chunk = stripes[0][0].bytes
        for length in [0, 1, ChunkHeader.size - 1, ChunkHeader.size, chunk.count - 1] {
            #expect(Self.rejection(of: Array(chunk.prefix(length)), for: descriptor)?.code == .invalidChunk)
        }
        #expect(Self.rejection(of: chunk + [0], for: descriptor)?.code == .invalidChunk)
    }

    @Test func aChunkOfAnotherObjectIsRejected() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let object = SampleData.random(5000, seed: 16)
        let (descriptor, _) = encodeObject(object, geometry: geometry, keyHash: 1, version: 1)
        let (_, otherKey) = encodeObject(object, geometry: geometry, keyHash: 2, version: 1)
        let (_, otherVersion) = encodeObject(object, geometry: geometry, keyHash: 1, version: 2)
        let (_, otherGeometry) = encodeObject(object, geometry: try ErasureGeometry(dataShards: 2, parityShards: 2))
        let (_, otherLength) = encodeObject(object + [1], geometry: geometry, keyHash: 1, version: 1)
        for chunk in [otherKey[0][0], otherVersion[0][0], otherGeometry[0][0], otherLength[0][0]] {
            #expect(Self.rejection(of: chunk.bytes, for: descriptor)?.code == .chunkMismatch)
        }
        let (large, stripes) = encodeObject(SampleData.random(3000, seed: 17), geometry: geometry, maximumShardLength: 256)
        #expect(large.stripeCount == 3)
        #expect(Self.rejection(of: stripes[1][0].bytes, for: large, stripe: 0)?.code == .chunkMismatch)
    }

    @Test func decodingGoesOnAfterARejectedChunk() throws {
        let geometry = try ErasureGeometry(dataShards: 4, parityShards: 2)
        let object = SampleData.random(5000, seed: 18)
        let (descriptor, stripes) = encodeObject(object, geometry: geometry)
        var decoder = ObjectDecoder()
        decoder.beginStripe(0, of: descriptor)
        var corrupted = stripes[0][0].bytes
        corrupted[corrupted.count - 1] ^= 0xFF
        do {
            try decoder.addChunk(corrupted.span.bytes)
            Issue.record("a corrupted chunk was accepted")
        } catch {
            #expect(error.code == .checksumMismatch)
        }
        for chunk in stripes[0].dropFirst() { try decoder.addChunk(chunk.bytes.span.bytes) }
        #expect(decoder.presentShards == ShardMask([1, 2, 3, 4]))
        let decoded = try decoder.finishStripe { span in span.withUnsafeBytes { Array($0) } }
        #expect(difference(decoded, object) == nil)
    }

    @Test func headerRoundTripsThroughItsEncoding() throws {
        let header = ChunkHeader(
            flags: .compressed,
            geometry: try ErasureGeometry(dataShards: 10, parityShards: 4),
            shardIndex: 13,
            stripeIndex: 70_000,
            objectLength: 1 << 40,
            objectVersion: .max,
            keyHash: 0x0123_4567_89AB_CDEF,
            stripeLength: 10 << 20,
            storedLength: 5 << 20,
            payloadLength: ChunkHeader.payloadLength(storedLength: 5 << 20, dataShards: 10),
            payloadChecksum: 0xDEAD_BEEF
        )
        let bytes = header.encodedBytes
        #expect(bytes.count == ChunkHeader.size)
        #expect(Array(bytes.prefix(4)) == Array("ISCK".utf8))
        let parsed = try ChunkHeader(parsing: bytes.span.bytes)
        #expect(parsed == header)
    }

    @Test func descriptorMapsByteRangesToStripes() throws {
        let descriptor = ObjectDescriptor(
            keyHash: 0,
            version: 1,
            length: 1000,
            geometry: try ErasureGeometry(dataShards: 2, parityShards: 1),
            stripeLength: 300
        )
        #expect(descriptor.stripeCount == 4)
        #expect(descriptor.byteRange(ofStripe: 3) == 900..<1000)
        #expect(descriptor.stripes(overlapping: 0..<1) == 0..<1)
        #expect(descriptor.stripes(overlapping: 299..<301) == 0..<2)
        #expect(descriptor.stripes(overlapping: 950..<5000) == 3..<4)
        #expect(descriptor.stripes(overlapping: 1000..<1001).isEmpty)
    }
}
