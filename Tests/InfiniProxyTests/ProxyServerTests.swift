import Foundation
import InfiniCoding
import InfiniCodingReference
import InfiniProxy
import NIOCore
import NIOPosix
import Testing

/// Starts a proxy on a free loopback port over in-process memory nodes, runs `body`, and stops it.
/// The read cache is off, so every read goes to the nodes, failed ones included.
func withProxy(
    geometry: String = "10+2",
    nodeCount: Int = 14,
    maximumShardLength: Int = ObjectEncoder.defaultMaximumShardLength,
    configuration: ProxyServer.Configuration = .init(port: 0),
    _ body: (_ port: Int, _ nodes: [InProcessChunkNode]) async throws -> Void
) async throws {
    let nodes = (0..<nodeCount).map { InProcessChunkNode(id: $0) }
    let store = ObjectStore(
        configuration: .init(geometry: try ErasureGeometry(geometry), maximumShardLength: maximumShardLength, readCacheCapacity: 0),
        nodes: nodes
    )
    let server = ProxyServer(configuration: configuration, store: store)
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { address in portContinuation.yield(address.port ?? 0) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        defer { group.cancelAll() }
        try await body(port, nodes)
    }
}

@Suite(.serialized) struct ProxyServerTests {
    @Test func setGetDeleteWithRedisCLI() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            #expect(try await redisCLI(port, ["PING"]) == "PONG\n")
            #expect(try await redisCLI(port, ["SET", "greeting", "hello world"]) == "OK\n")
            #expect(try await redisCLI(port, ["GET", "greeting"]) == "hello world\n")
            #expect(try await redisCLI(port, ["STRLEN", "greeting"]) == "11\n")
            #expect(try await redisCLI(port, ["EXISTS", "greeting", "missing", "greeting"]) == "2\n")
            #expect(try await redisCLI(port, ["GET", "missing"]) == "\n")
            #expect(try await redisCLI(port, ["DEL", "greeting", "missing"]) == "1\n")
            #expect(try await redisCLI(port, ["GET", "greeting"]) == "\n")
            #expect(try await redisCLI(port, ["DBSIZE"]) == "0\n")
        }
    }

    @Test func binarySafeAndEmptyValues() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            let binary = Data([0, 1, 2, 0, 13, 10, 255, 0])
            #expect(try await redisCLI(port, ["-x", "SET", "binary"], input: binary) == "OK\n")
            let echoed = try await run("/bin/sh", ["-c", "/usr/bin/redis-cli -p \(port) --no-raw GET binary"])
            #expect(echoed == "\"\\x00\\x01\\x02\\x00\\r\\n\\xff\\x00\"\n")
            #expect(try await redisCLI(port, ["SET", "empty", ""]) == "OK\n")
            #expect(try await redisCLI(port, ["STRLEN", "empty"]) == "0\n")
            #expect(try await redisCLI(port, ["EXISTS", "empty"]) == "1\n")
        }
    }

    @Test func largeValuesRoundTripThroughStripes() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            let value = Data(SampleData.random(25 << 20, seed: 25))
            #expect(try await redisCLI(port, ["-x", "SET", "large"], input: value) == "OK\n")
            #expect(try await redisCLI(port, ["STRLEN", "large"]) == "\(value.count)\n")
            #expect(try await valueReadWithRedisCLI(port, key: "large") == value)
        }
    }

    @Test func errorsUseRedisWording() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            // redis-cli prints an error reply and a blank line, as it does for redis-server.
            #expect(try await redisCLI(port, ["FOO", "bar", "baz"]) == "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \n\n")
            #expect(try await redisCLI(port, ["GET"]) == "ERR wrong number of arguments for 'get' command\n\n")
            #expect(try await redisCLI(port, ["SET", "k", "v", "BOGUS"]) == "ERR syntax error\n\n")
            #expect(try await redisCLI(port, ["SELECT", "1"]) == "ERR DB index is out of range\n\n")
            #expect(try await redisCLI(port, ["PING"]) == "PONG\n")
        }
    }

    // A proxy that waited for the refused bytes would hang here, not fail.
    @Test(.timeLimit(.minutes(1))) func clientsThatHaveNotAuthenticatedAreHeldToRedisLimits() async throws {
        try await withProxy(configuration: .init(port: 0, password: "pw")) { (port: Int, _: [InProcessChunkNode]) async throws in
            func request(_ arguments: [String]) -> String {
                "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
            }
            let long = String(repeating: "v", count: 16385)
            // A long value's length is refused before the value is sent, and the connection closes.
            try await withRawClient(port) { client in
                try await client.send(ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n"))
                #expect(try await client.receiveUntilClosed() == "-ERR Protocol error: unauthenticated bulk length\r\n")
            }
            try await withRawClient(port) { client in
                try await client.send(ByteBuffer(string: "*11\r\n"))
                #expect(try await client.receiveUntilClosed() == "-ERR Protocol error: unauthenticated multibulk length\r\n")
            }
            // Within the limits a request gets the usual NOAUTH; an AUTH lifts the limits for the
            // requests pipelined right behind it.
            try await withRawClient(port) { client in
                let pipeline = request(["GET", "k"]) + request(["AUTH", "pw"]) + request(["SET", "k", long])
                    + request(["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]) + request(["STRLEN", "k"])
                try await client.send(ByteBuffer(string: pipeline))
                #expect(try await client.receive(57) == "-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n+OK\r\n:16385\r\n")
            }
        }
    }

    @Test func concurrentAppendsAndSetGetsLoseNoWrite() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            // 20 clients append to one key at once: every append is in the value.
            let output = try await run("/usr/bin/redis-benchmark", ["-p", String(port), "-n", "600", "-c", "20", "-q", "APPEND", "log", "xy"])
            #expect(!output.lowercased().contains("error"), "\(output)")
            #expect(try await redisCLI(port, ["STRLEN", "log"]) == "1200\n")

            // 8 clients replace one key with SET … GET at once: each value written is returned
            // as the one replaced exactly once, except the value left in the key.
            let previous = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in 0..<8 {
                    group.addTask {
                        var replaced: [String] = []
                        try await withRawClient(port) { connection in
                            for write in 0..<25 {
                                let value = "c\(client)w\(write)"
                                try await connection.send(ByteBuffer(string: "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$\(value.utf8.count)\r\n\(value)\r\n$3\r\nGET\r\n"))
                                let header = try await connection.receiveLine()
                                replaced.append(header == "$-1\r\n" ? "(nil)" : try await connection.receiveLine().trimmingCharacters(in: .newlines))
                            }
                        }
                        return replaced
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let last = try await redisCLI(port, ["GET", "k"]).trimmingCharacters(in: .newlines)
            let written = (0..<8).flatMap { client in (0..<25).map { "c\(client)w\($0)" } }
            #expect((previous + [last]).sorted() == (written + ["(nil)"]).sorted())
        }
    }

    @Test func setOptionsNXXXAndGET() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            #expect(try await redisCLI(port, ["SET", "k", "1", "NX"]) == "OK\n")
            #expect(try await redisCLI(port, ["SET", "k", "2", "NX"]) == "\n")
            #expect(try await redisCLI(port, ["SET", "k", "3", "XX", "GET"]) == "1\n")
            #expect(try await redisCLI(port, ["SET", "other", "4", "XX"]) == "\n")
            #expect(try await redisCLI(port, ["GET", "k"]) == "3\n")
            #expect(try await redisCLI(port, ["MSET", "a", "x", "b", "y"]) == "OK\n")
            #expect(try await redisCLI(port, ["MGET", "a", "nope", "b"]) == "x\n\ny\n")
        }
    }

    @Test func readsSurviveParityManyFailedNodes() async throws {
        try await withProxy { (port: Int, nodes: [InProcessChunkNode]) async throws in
            let value = String(repeating: "0123456789abcdef", count: 4096)
            #expect(try await redisCLI(port, ["SET", "resilient", value]) == "OK\n")
            #expect(try await redisCLI(port, ["SET", "small", "tiny"]) == "OK\n")
            // 10+2 over 14 nodes: any two nodes may go.
            await nodes[3].fail()
            await nodes[9].fail()
            #expect(try await redisCLI(port, ["GET", "resilient"]) == value + "\n")
            #expect(try await redisCLI(port, ["GET", "small"]) == "tiny\n")
            for node in nodes.prefix(6) { await node.fail() }
            let reply = try await redisCLI(port, ["GET", "resilient"])
            #expect(reply.hasPrefix("ERR cannot decode stripe 0"))
        }
    }

    @Test func aLongValueIsSentStripeByStripeAndCutOffIfAStripeIsLost() async throws {
        // 4+2 with 64 KiB shards: 256 KiB stripes, 64 of them in this value.
        let stripeLength = 256 << 10
        try await withProxy(geometry: "4+2", nodeCount: 6, maximumShardLength: 64 << 10) {
            (port: Int, nodes: [InProcessChunkNode]) async throws in
            let value = Data(SampleData.random(16 << 20, seed: 16))
            #expect(try await redisCLI(port, ["-x", "SET", "long"], input: value) == "OK\n")

            try await withRawClient(port) { client in
                try await client.send(ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$4\r\nlong\r\n"))
                try await client.fill(upTo: 1 << 20)
                #expect(client.received.readableBytesView.starts(with: "$\(value.count)\r\n".utf8))

                // Not reading, the client stops the reply once the buffers between are full.
                var held = try await heldClientMemory(port)
                for _ in 0..<100 {
                    try await Task.sleep(for: .milliseconds(100))
                    let now = try await heldClientMemory(port)
                    if now == held, now > 0 { break }
                    held = now
                }
                #expect(held > 0 && held <= 2 * stripeLength, "a stuck reply holds two stripes, not the value")

                // More than p nodes go while the reply is stuck: it is cut off, not finished or hung.
                for node in nodes.prefix(3) { await node.fail() }
                let replyLength = "$\(value.count)\r\n".utf8.count + value.count + 2
                try await client.fill(upTo: replyLength)
                #expect(client.received.readableBytes > 1 << 20 && client.received.readableBytes < replyLength)
            }
            #expect(try await redisCLI(port, ["PING"]) == "PONG\n")
            for _ in 0..<100 where try await heldClientMemory(port) > 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await heldClientMemory(port) == 0)
        }
    }

    @Test func aLongValueIsStoredStripeByStripeAsItArrives() async throws {
        // 4+2 with 64 KiB shards: 256 KiB stripes; values over two stripes are stored as they arrive.
        let stripeLength = 256 << 10
        try await withProxy(geometry: "4+2", nodeCount: 6, maximumShardLength: 64 << 10) {
            (port: Int, nodes: [InProcessChunkNode]) async throws in
            func storedBytes() async -> Int { await totalStoredBytes(of: nodes) }
            let value = ByteBuffer(bytes: SampleData.random(16 << 20, seed: 17))
            func setHeader(_ key: String, length: Int = value.readableBytes) -> ByteBuffer {
                ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$\(key.utf8.count)\r\n\(key)\r\n$\(length)\r\n")
            }

            // Half the value is sent: stripes are stored, two at most held, nothing visible yet.
            try await withRawClient(port) { client in
                var request = setHeader("long")
                request.writeImmutableBuffer(value.getSlice(at: 0, length: 8 << 20)!)
                try await client.send(request)
                for _ in 0..<200 where await storedBytes() < 4 << 20 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(await storedBytes() >= 4 << 20, "stripes are stored while the value arrives")
                let held = try await heldClientMemory(port)
                #expect(held > 0 && held <= 2 * stripeLength, "a value arriving holds two stripes, not the value")
                #expect(try await redisCLI(port, ["EXISTS", "long"]) == "0\n")
                var rest = value.getSlice(at: 8 << 20, length: 8 << 20)!
                rest.writeString("\r\n*1\r\n$4\r\nPING\r\n")
                try await client.send(rest)
                #expect(try await client.receive(12) == "+OK\r\n+PONG\r\n")
            }
            #expect(try await valueReadWithRedisCLI(port, key: "long") == Data(value.readableBytesView))
            #expect(try await heldClientMemory(port) == 0)
            let oneValue = await storedBytes()

            // A client that leaves partway leaves nothing behind.
            try await withRawClient(port) { client in
                var request = setHeader("abandoned")
                request.writeImmutableBuffer(value.getSlice(at: 0, length: 4 << 20)!)
                try await client.send(request)
                for _ in 0..<200 where await storedBytes() <= oneValue { try await Task.sleep(for: .milliseconds(10)) }
            }
            for _ in 0..<300 where await storedBytes() > oneValue { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await storedBytes() == oneValue, "the stripes of an abandoned value are freed")
            #expect(try await redisCLI(port, ["EXISTS", "abandoned"]) == "0\n")

            // A value not ended by CRLF is a protocol error, and the connection closes.
            try await withRawClient(port) { client in
                var request = setHeader("unended", length: 1 << 20)
                request.writeImmutableBuffer(value.getSlice(at: 0, length: 1 << 20)!)
                request.writeString("XY")
                try await client.send(request)
                #expect(try await client.receiveUntilClosed() == "-ERR Protocol error: expected CRLF\r\n")
            }
            #expect(try await redisCLI(port, ["EXISTS", "unended"]) == "0\n")

            // Nodes lost partway: the value is still read to its end, the SET fails, the connection goes on.
            try await withRawClient(port) { client in
                var request = setHeader("long")
                request.writeImmutableBuffer(value.getSlice(at: 0, length: 2 << 20)!)
                try await client.send(request)
                for node in nodes.prefix(3) { await node.fail() }
                var rest = value.getSlice(at: 2 << 20, length: 14 << 20)!
                rest.writeString("\r\n*1\r\n$4\r\nPING\r\n")
                try await client.send(rest)
                let reply = try await client.receiveLine()
                #expect(reply.hasPrefix("-ERR "), "\(reply)")
                #expect(try await client.receive(7) == "+PONG\r\n")
            }
            #expect(try await heldClientMemory(port) == 0)
        }
    }

    @Test func aLargeValueIsTakenReadByReadAsItArrives() async throws {
        // 10+2 with 1 MiB shards: a 3 MiB value is one stripe, taken as the reads it arrives in
        // and stored from them once whole.
        try await withProxy { (port: Int, nodes: [InProcessChunkNode]) async throws in
            let value = ByteBuffer(bytes: SampleData.random(3 << 20 + 5, seed: 19))
            func setHeader(_ key: String, length: Int = value.readableBytes) -> ByteBuffer {
                ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$\(key.utf8.count)\r\n\(key)\r\n$\(length)\r\n")
            }

            // Sent in pieces with pauses, so it arrives in many reads; its end shares a write
            // with the next request.
            try await withRawClient(port) { client in
                try await client.send(setHeader("large"))
                var offset = 0
                while offset < 2 << 20 {
                    try await client.send(value.getSlice(at: offset, length: 100_000)!)
                    offset += 100_000
                    try await Task.sleep(for: .milliseconds(2))
                }
                #expect(try await heldClientMemory(port) == value.readableBytes, "the arriving value holds its length")
                #expect(try await redisCLI(port, ["EXISTS", "large"]) == "0\n")
                var rest = value.getSlice(at: offset, length: value.readableBytes - offset)!
                rest.writeString("\r\n*1\r\n$4\r\nPING\r\n")
                try await client.send(rest)
                #expect(try await client.receive(12) == "+OK\r\n+PONG\r\n")
            }
            #expect(try await valueReadWithRedisCLI(port, key: "large") == Data(value.readableBytesView))
            #expect(try await heldClientMemory(port) == 0)
            let oneValue = await totalStoredBytes(of: nodes)

            // A client that leaves partway stores nothing and holds nothing.
            try await withRawClient(port) { client in
                var request = setHeader("abandoned")
                request.writeImmutableBuffer(value.getSlice(at: 0, length: 1 << 20)!)
                try await client.send(request)
                for _ in 0..<200 where try await heldClientMemory(port) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            for _ in 0..<300 where try await heldClientMemory(port) > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try await heldClientMemory(port) == 0)
            #expect(try await redisCLI(port, ["EXISTS", "abandoned"]) == "0\n")
            #expect(await totalStoredBytes(of: nodes) == oneValue)

            // A value not ended by CRLF is a protocol error, and the connection closes.
            try await withRawClient(port) { client in
                var request = setHeader("unended")
                request.writeImmutableBuffer(value)
                request.writeString("XY")
                try await client.send(request)
                #expect(try await client.receiveUntilClosed() == "-ERR Protocol error: expected CRLF\r\n")
            }
            #expect(try await redisCLI(port, ["EXISTS", "unended"]) == "0\n")
            #expect(try await heldClientMemory(port) == 0)
        }
    }

    @Test(.timeLimit(.minutes(1))) func aClientSendingFasterThanItReadsIsHeldBackAndAnsweredInOrder() async throws {
        // 20 MiB of pipelined ECHOs sent while the client reads nothing: the replies fill the
        // socket buffers, the proxy stops writing and then stops reading, and once the client
        // reads, every reply comes, in order.
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            let count = 20_000
            let padding = String(repeating: "x", count: 1000)
            var requests = ByteBuffer()
            var expected = ByteBuffer()
            for index in 0..<count {
                let text = "\(index)\(padding)"
                requests.writeString("*2\r\n$4\r\nECHO\r\n$\(text.utf8.count)\r\n\(text)\r\n")
                expected.writeString("$\(text.utf8.count)\r\n\(text)\r\n")
            }
            try await withRawClient(port) { client in
                try await client.send(requests)
                try await Task.sleep(for: .seconds(1))
                try await client.fill(upTo: expected.readableBytes)
                #expect(client.received.readableBytes == expected.readableBytes)
                #expect(client.received == expected, "the replies of a held-back pipeline come in order")
            }
            #expect(try await redisCLI(port, ["PING"]) == "PONG\n")
        }
    }

    @Test func redisBenchmarkPipelinedRunHasNoErrors() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            let output = try await run(
                "/usr/bin/redis-benchmark",
                ["-p", String(port), "-n", "2000", "-c", "10", "-P", "16", "-d", "1024", "-t", "set,get", "-q"]
            )
            #expect(output.contains("SET:") && output.contains("GET:"))
            #expect(!output.lowercased().contains("error"))
            #expect(try await redisCLI(port, ["STRLEN", "key:__rand_int__"]) == "1024\n")
        }
    }
}

/// A client connection that sends raw bytes and reads raw replies, for tests that control exactly
/// what goes over the wire and when.
struct RawClient {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var reads: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var received = ByteBuffer()

    func send(_ bytes: ByteBuffer) async throws { try await outbound.write(bytes) }

    /// Reads until ``received`` holds at least `count` bytes or the server closes the connection.
    mutating func fill(upTo count: Int) async throws {
        while received.readableBytes < count, var bytes = try await reads.next() { received.writeBuffer(&bytes) }
    }

    /// The next `count` bytes, as text.
    mutating func receive(_ count: Int) async throws -> String {
        try await fill(upTo: count)
        return received.readString(length: min(count, received.readableBytes)) ?? ""
    }

    /// Up to and including the next CRLF, as text.
    mutating func receiveLine() async throws -> String {
        while !received.readableBytesView.contains(UInt8(ascii: "\n")) {
            guard var bytes = try await reads.next() else { break }
            received.writeBuffer(&bytes)
        }
        let end = received.readableBytesView.firstIndex(of: UInt8(ascii: "\n")).map { $0 - received.readerIndex + 1 }
        return received.readString(length: end ?? received.readableBytes) ?? ""
    }

    /// Everything until the server closes the connection, as text.
    mutating func receiveUntilClosed() async throws -> String {
        try await fill(upTo: .max)
        return received.readString(length: received.readableBytes) ?? ""
    }
}

/// INFO's `infinistore_client_memory_held` of the proxy on `port`, read with `redis-cli`.
/// The value of `key` as `redis-cli --raw GET` writes it to a file, without the newline it adds.
func valueReadWithRedisCLI(_ port: Int, key: String) async throws -> Data {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-get-\(port)-\(key)")
    defer { try? FileManager.default.removeItem(at: path) }
    _ = try await run("/bin/sh", ["-c", "/usr/bin/redis-cli -p \(port) --raw GET \(key) > \(path.path)"])
    let read = try Data(contentsOf: path)
    #expect(read.last == UInt8(ascii: "\n"))
    return read.dropLast()
}

func heldClientMemory(_ port: Int) async throws -> Int {
    let info = try await redisCLI(port, ["INFO", "memory"])
    let line = info.split(separator: "\r\n").first { $0.hasPrefix("infinistore_client_memory_held:") }
    return Int(try #require(line?.split(separator: ":").last)) ?? -1
}

/// Connects a ``RawClient`` to the loopback `port`, runs `body`, and closes the connection.
func withRawClient(_ port: Int, _ body: (inout RawClient) async throws -> Void) async throws {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    try await channel.executeThenClose { inbound, outbound in
        var client = RawClient(outbound: outbound, reads: inbound.makeAsyncIterator())
        try await body(&client)
    }
}
