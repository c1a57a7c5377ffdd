import InfiniCoding
import InfiniCodingReference
import Testing

@Suite struct CRC32CTests {
    @Test func knownVector() {
        let digits = Array("123456789".utf8)
        let known = CRC32C.checksum(digits.span.bytes)
        #expect(known == 0xE306_9283)
        let empty = [UInt8]()
        let none = CRC32C.checksum(empty.span.bytes)
        #expect(none == 0)
    }

    @Test func agreesWithTheBitwiseOracle() {
        for length in [1, 7, 8, 63, 64, 65, 1000, 4097] {
            let bytes = SampleData.random(length, seed: UInt64(length))
            let checksum = CRC32C.checksum(bytes.span.bytes)
            #expect(checksum == scalarCRC32C(bytes), "length \(length)")
        }
    }

    @Test func chainsAcrossPieces() {
        let bytes = SampleData.random(10_000, seed: 5)
        let head = Array(bytes[0..<3333])
        let tail = Array(bytes[3333...])
        let chained = CRC32C.checksum(tail.span.bytes, seed: CRC32C.checksum(head.span.bytes))
        let whole = CRC32C.checksum(bytes.span.bytes)
        #expect(chained == whole)
    }
}
