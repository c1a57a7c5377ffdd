import HistoryChecking
import PortTestSupport
import RESP
import Testing

@Suite struct TestRedisClientTests {
    @Test func commandsRoundTripBinarySafe() async throws {
        try await withProxy { port in
            let client = try await TestRedisClient.connect(port: port)
            let binary = BinaryString([0, 13, 10, 36, 42, 255, 0])
            #expect(try await client.send(["SET", "binary", binary]) == RESPValue(simpleString: "OK"))
            #expect(try await client.send(["GET", "binary"]) == RESPValue(bulkString: binary.bytes))
            #expect(try await client.send(["GET", "missing"]) == .null)
            #expect(try await client.send(["DEL", "binary", "missing"]) == .integer(1))
            // An error reply is an answer, not a failure.
            let error = try await client.send(["NOSUCHCOMMAND"])
            #expect(error.isError)
            #expect(try await client.send(["PING"]) == RESPValue(simpleString: "PONG"))
            await client.close()
        }
    }

    @Test func pipelinedRepliesComeBackInOrder() async throws {
        try await withProxy { port in
            let client = try await TestRedisClient.connect(port: port)
            let commands: [[BinaryString]] = (0..<50).flatMap { index -> [[BinaryString]] in
                let key = BinaryString("key\(index)")
                return [["SET", key, BinaryString("value\(index)")], ["GET", key]]
            }
            let replies = await client.pipeline(commands)
            #expect(replies.count == 100)
            for index in 0..<50 {
                #expect(try replies[2 * index].get() == RESPValue(simpleString: "OK"))
                #expect(try replies[2 * index + 1].get() == RESPValue(bulkString: "value\(index)"))
            }
            // Requests sent by many tasks at once share the connection and still get their own replies.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        let message = BinaryString("message \(index)")
                        let reply = try await client.send(["ECHO", message])
                        #expect(reply == RESPValue(bulkString: message.bytes))
                    }
                }
                try await group.waitForAll()
            }
            await client.close()
        }
    }

    @Test func refusedConnectionThrows() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let error = await #expect(throws: TestRedisClientError.self) {
            _ = try await TestRedisClient.connect(port: refusing.port)
        }
        #expect(error?.reason == .connectFailed)
    }

    @Test func connectionClosedMidRequestThrows() async throws {
        let server = RegisterServer(.hangUp)
        try await withServer(server.run) { port in
            let client = try await TestRedisClient.connect(port: port)
            let error = await #expect(throws: TestRedisClientError.self) {
                _ = try await client.send(["GET", "k"])
            }
            #expect(error?.reason == .connectionClosed)
            // The connection is gone: later requests fail at once.
            let later = await #expect(throws: TestRedisClientError.self) {
                _ = try await client.send(["GET", "k"])
            }
            #expect(later?.reason == .connectionClosed)
        }
    }

    @Test func unansweredRequestsTimeOut() async throws {
        let server = RegisterServer(.silent)
        try await withServer(server.run) { port in
            let client = try await TestRedisClient.connect(port: port, defaultTimeout: .milliseconds(200))
            let replies = await client.pipeline([["SET", "k", "v"], ["GET", "k"]])
            #expect(replies.count == 2)
            for reply in replies {
                #expect(throws: TestRedisClientError(.timedOut, "no reply within 200 ms")) { try reply.get() }
            }
            let later = await #expect(throws: TestRedisClientError.self) {
                _ = try await client.send(["PING"], timeout: .seconds(10))
            }
            #expect(later?.reason == .connectionClosed)
        }
    }
}
