import NIOCore
import RESP
import Testing

@testable import InfiniProxy

@Suite struct ReplyBufferTests {
    private static func joined(_ buffers: [ByteBuffer]) -> String {
        buffers.map { String(buffer: $0) }.joined()
    }

    /// The batches of buffers `replies` hands to its writer, in order.
    private static func written(_ replies: ReplyBuffer) async throws -> [[ByteBuffer]] {
        var batches: [[ByteBuffer]] = []
        try await replies.write { batches.append($0) }
        return batches
    }

    @Test func longPartsOfAValueAreKeptAndShortOnesCopiedTogether() {
        let long = ByteBuffer(repeating: UInt8(ascii: "L"), count: ValueBytes.separatePartLength)
        var value = ValueBytes(expectedLength: 2 * long.readableBytes + 6)
        for part in [ByteBuffer(string: "ab"), ByteBuffer(string: "cd"), long, long, ByteBuffer(string: "ef")] {
            value.append(part)
        }
        #expect(value.parts.map(\.readableBytes) == [4, long.readableBytes, long.readableBytes, 2])
        #expect(value.readableBytes == 2 * long.readableBytes + 6)
        #expect(String(buffer: value.joined) == "abcd" + String(buffer: long) + String(buffer: long) + "ef")
        #expect(ValueBytes(value.joined) == value)
        #expect(ValueBytes(expectedLength: 0).joined.readableBytes == 0)
    }

    @Test func aValueIsWrittenAsTheSameBytesWithItsLongPartsByReference() async throws {
        let long = ByteBuffer(repeating: UInt8(ascii: "L"), count: 20_000)
        var value = ValueBytes(expectedLength: 2 * long.readableBytes + 3)
        for part in [ByteBuffer(string: "abc"), long, long] { value.append(part) }
        var replies = ReplyBuffer(allocator: ByteBufferAllocator())
        replies.writeSimpleString("OK")
        replies.writeBulkString(value)
        replies.writeRESPInteger(7)
        replies.writeBulkString(ByteBuffer(string: "short"))

        var plain = ByteBuffer()
        plain.writeSimpleString("OK")
        plain.writeBulkString(value.joined)
        plain.writeRESPInteger(7)
        plain.writeBulkString(ByteBuffer(string: "short"))
        let batches = try await Self.written(replies)
        #expect(batches.count == 1, "one gathering write")
        let buffers = batches.joined()
        #expect(Self.joined(Array(buffers)) == String(buffer: plain))
        #expect(replies.readableBytes == plain.readableBytes)
        // Encoded bytes, the two long parts as they are, then what followed them.
        #expect(buffers.count == 4)
        #expect(Array(buffers)[1].readableBytes == long.readableBytes)

        replies.clear()
        #expect(replies.readableBytes == 0)
        #expect(try await Self.written(replies).isEmpty)
        replies.writeNull(protocol: .v3)
        #expect(try await Self.written(replies).map(Self.joined) == ["_\r\n"])
    }
}
