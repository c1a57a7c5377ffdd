import InfiniCoding
import InfiniCodingReference
import Testing

@Suite struct LZ4BlockTests {
    static func roundTrip(_ input: [UInt8]) throws -> (compressedLength: Int, output: [UInt8]) {
        var compressed = [UInt8](repeating: 0, count: LZ4Block.maximumCompressedLength(input.count))
        var compressedSpan = compressed.mutableSpan
        var compressedBytes = compressedSpan.mutableBytes
        let compressedLength = try LZ4Block.compress(input.span.bytes, into: &compressedBytes)
        let block = Array(compressed.prefix(compressedLength))
        var output = [UInt8](repeating: 0, count: input.count)
        var outputSpan = output.mutableSpan
        var outputBytes = outputSpan.mutableBytes
        let decompressedLength = try LZ4Block.decompress(block.span.bytes, into: &outputBytes)
        #expect(decompressedLength == input.count)
        return (compressedLength, output)
    }

    @Test func roundTripsRandomZeroTextAndCompressedInputs() throws {
        let random = SampleData.random(100_000, seed: 1)
        let zeros = [UInt8](repeating: 0, count: 100_000)
        let text = SampleData.text(100_000, seed: 2)
        for input in [random, zeros, text, [7]] {
            let (_, output) = try Self.roundTrip(input)
            #expect(output == input)
        }
        #expect(try Self.roundTrip(zeros).compressedLength < 1000)
        #expect(try Self.roundTrip(text).compressedLength < text.count * 3 / 4)

        var block = [UInt8](repeating: 0, count: LZ4Block.maximumCompressedLength(text.count))
        var span = block.mutableSpan
        var bytes = span.mutableBytes
        let length = try LZ4Block.compress(text.span.bytes, into: &bytes)
        let alreadyCompressed = Array(block.prefix(length))
        #expect(try Self.roundTrip(alreadyCompressed).output == alreadyCompressed)
    }

    @Test func malformedBlocksAreRejected() {
        let garbage = SampleData.random(1000, seed: 3)
        var output = [UInt8](repeating: 0, count: 4096)
        var span = output.mutableSpan
        var bytes = span.mutableBytes
        do {
            let length = try LZ4Block.decompress(garbage.span.bytes, into: &bytes)
            Issue.record("garbage decompressed to \(length) bytes")
        } catch {
            #expect(error.code == .decompressionFailed)
        }
    }

    @Test func aTooSmallDestinationIsAnErrorNotAnOverflow() throws {
        let text = SampleData.text(10_000, seed: 4)
        var block = [UInt8](repeating: 0, count: LZ4Block.maximumCompressedLength(text.count))
        var blockSpan = block.mutableSpan
        var blockBytes = blockSpan.mutableBytes
        let length = try LZ4Block.compress(text.span.bytes, into: &blockBytes)
        let compressed = Array(block.prefix(length))
        var output = [UInt8](repeating: 0, count: text.count - 1)
        var outputSpan = output.mutableSpan
        var outputBytes = outputSpan.mutableBytes
        do {
            let length = try LZ4Block.decompress(compressed.span.bytes, into: &outputBytes)
            Issue.record("decompressed \(length) bytes into \(text.count - 1)")
        } catch {
            #expect(error.code == .decompressionFailed)
        }
    }

    @Test func policyTellsCompressibleFromIncompressible() {
        let policy = CompressionPolicy.default
        let random = SampleData.random(1 << 20, seed: 5)
        let text = SampleData.text(1 << 20, seed: 6)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let small = SampleData.text(100, seed: 7)
        #expect(!policy.looksCompressible(bytes: random))
        #expect(policy.looksCompressible(bytes: text))
        #expect(policy.looksCompressible(bytes: zeros))
        #expect(!policy.looksCompressible(bytes: small))
        #expect(!CompressionPolicy.disabled.looksCompressible(bytes: zeros))
    }
}

extension CompressionPolicy {
    func looksCompressible(bytes: [UInt8]) -> Bool { looksCompressible(bytes.span.bytes) }
}
