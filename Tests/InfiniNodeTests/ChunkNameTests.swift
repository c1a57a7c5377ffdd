import InfiniNodeProtocol
import Testing

@Suite struct ChunkNameTests {
    @Test func storageNamesSpreadOverTheVersionsLowByte() {
        #expect(NodeProtocol.storageName(version: 0x1AB, stripe: 2, shard: 11) == "chunks/ab/427-2-11")
        #expect(NodeProtocol.storageName(version: 5, stripe: 0, shard: 0) == "chunks/05/5-0-0")
        #expect(NodeProtocol.storageName(version: .max, stripe: 0, shard: 1) == "chunks/ff/18446744073709551615-0-1")
    }

    @Test func wireNamesParseToTheirParts() throws {
        let parts = try #require(NodeProtocol.parseChunkName("12/0/3"))
        #expect(parts == (12, 0, 3))
        let largest = try #require(NodeProtocol.parseChunkName("18446744073709551615/7/9"))
        #expect(largest.version == .max)
        #expect(NodeProtocol.storageName(ofChunk: "300/1/2") == "chunks/2c/300-1-2")
    }

    @Test(arguments: [
        "", "1", "1/2", "1/2/3/4", "a/0/0", "1//0", "1/0/", "/1/0", "-1/0/0", "+1/0/0", "1/0/ 2",
        "18446744073709551616/0/0", "1-0-0",
    ])
    func malformedWireNamesAreRefused(_ text: String) {
        #expect(NodeProtocol.parseChunkName(text) == nil)
        #expect(NodeProtocol.storageName(ofChunk: text) == nil)
    }

    @Test func storageNamesParseBackOnlyWhenExact() throws {
        let parts = try #require(NodeProtocol.parseStorageName("chunks/2c/300-1-2"))
        #expect(parts == (300, 1, 2))
        for other in ["chunks/00/300-1-2", "chunks/2c/0300-1-2", "chunks/2c/300-1", "chunks/2c/300/1/2", "other/2c/300-1-2"] {
            #expect(NodeProtocol.parseStorageName(other) == nil, "\(other)")
        }
    }
}
