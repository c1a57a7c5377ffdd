import AWSAccess
import NIOCore
import NIOHTTP1
import PortTestSupport
import Testing

@Suite struct RetryPolicyTests {
    @Test func delayCapsDoubleUpToTheMaximum() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect((1...6).map { policy.delayCap(beforeRetry: $0) } == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ])
        #expect(policy.delayCap(beforeRetry: 1_000) == .seconds(1))
    }

    @Test func jitterStaysWithinTheCapAndVaries() {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in policy.delay(beforeRetry: 3, using: &generator) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .milliseconds(400) })
        #expect(Set(delays).count > 100)
    }

    @Test func onlyRetryableFailuresWithinTheAttemptBudget() {
        let policy = RetryPolicy(maxAttempts: 3)
        let slowDown = AWSError(.refused, "SlowDown", status: 503, serviceCode: "SlowDown")
        #expect(policy.shouldRetry(slowDown, afterAttempt: 1))
        #expect(policy.shouldRetry(slowDown, afterAttempt: 2))
        #expect(!policy.shouldRetry(slowDown, afterAttempt: 3))
        #expect(policy.shouldRetry(AWSError(.refused, "", status: 500), afterAttempt: 1))
        #expect(policy.shouldRetry(AWSError(.connectionFailed, "reset"), afterAttempt: 1))
        #expect(policy.shouldRetry(AWSError(.timedOut, "slow"), afterAttempt: 1))
        for status in [400, 403, 404, 409, 416, 429] {
            #expect(!policy.shouldRetry(AWSError(.refused, "", status: status), afterAttempt: 1))
        }
        #expect(!policy.shouldRetry(AWSError(.responseTooLarge, ""), afterAttempt: 1))
        #expect(!RetryPolicy.never.shouldRetry(slowDown, afterAttempt: 1))
    }
}

/// The S3 client against a scripted loopback server: retries, limits and the connection pool.
@Suite struct S3ClientTransportTests {
    static let slowDown = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>
        """

    static func client(port: Int, attempts: Int = 4, maxConnections: Int = 4, maxBody: Int = 1 << 20) throws -> S3Client {
        try S3Client(
            configuration: S3Client.Configuration(
                credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"),
                region: "us-east-1",
                endpoint: "http://127.0.0.1:\(port)",
                http: AWSClient.Configuration(
                    maxConnections: maxConnections,
                    connectTimeout: .seconds(2),
                    requestTimeout: .seconds(5),
                    maxResponseBodySize: maxBody,
                    retry: RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))
                )
            )
        )
    }

    @Test func slowDownIsRetriedUntilSuccess() async throws {
        let server = try await ScriptedHTTPServer { index, _ in
            index < 2 ? .init(status: .serviceUnavailable, body: Self.slowDown) : .init(status: .ok, body: "hello")
        }
        let client = try Self.client(port: server.port)
        let body = try await client.getObject(bucket: "bucket", key: "dir/key")
        #expect(body == ByteBuffer(string: "hello"))
        let requests = server.snapshot.requests
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.uri == "/bucket/dir/key" && $0.headers["Authorization"].count == 1 })
        #expect(requests.allSatisfy { $0.headers["Host"] == ["127.0.0.1:\(server.port)"] })
        client.shutdown()
        try await server.stop()
    }

    @Test func attemptsAreBounded() async throws {
        let server = try await ScriptedHTTPServer { _, _ in .init(status: .serviceUnavailable, body: Self.slowDown) }
        let client = try Self.client(port: server.port, attempts: 3)
        let error = await #expect(throws: AWSError.self) {
            try await client.putObject(bucket: "bucket", key: "k", body: ByteBuffer(string: "x"))
        }
        #expect(error?.message == "S3 PUT bucket/k refused: SlowDown: Please reduce your request rate.")
        #expect(error?.status == 503)
        #expect(server.snapshot.requests.count == 3)
        client.shutdown()
        try await server.stop()
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let denied = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        let server = try await ScriptedHTTPServer { _, _ in .init(status: .forbidden, body: denied) }
        let client = try Self.client(port: server.port)
        let error = await #expect(throws: AWSError.self) { try await client.deleteObject(bucket: "bucket", key: "k") }
        #expect(error?.serviceCode == "AccessDenied")
        #expect(error?.message == "S3 DELETE bucket/k refused: AccessDenied: Access Denied")
        #expect(server.snapshot.requests.count == 1)
        client.shutdown()
        try await server.stop()
    }

    @Test func connectionFailuresAreRetriedThenReported() async throws {
        // Bound but not listening, and held for the whole test: connections are refused, and no
        // server another test starts meanwhile can take the port, as one did when it was only
        // free a moment before.
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let client = try Self.client(port: refusing.port, attempts: 2)
        let error = await #expect(throws: AWSError.self) { try await client.headObject(bucket: "bucket", key: "k") }
        #expect(error?.code == .connectionFailed)
        client.shutdown()
    }

    @Test func absurdContentLengthIsRefusedUnread() async throws {
        let server = try await ScriptedHTTPServer { _, _ in .init(status: .ok, claimedLength: 1 << 40) }
        let client = try Self.client(port: server.port, maxBody: 1 << 20)
        let error = await #expect(throws: AWSError.self) { try await client.getObject(bucket: "bucket", key: "k") }
        #expect(error?.code == .responseTooLarge)
        #expect(server.snapshot.requests.count == 1)
        client.shutdown()
        try await server.stop()
    }

    @Test func headReadsTheLengthWithoutABody() async throws {
        let server = try await ScriptedHTTPServer { _, head in
            head.uri == "/bucket/there" ? .init(status: .ok, claimedLength: 5 << 30) : .init(status: .notFound)
        }
        let client = try Self.client(port: server.port, maxBody: 1 << 20)
        #expect(try await client.headObject(bucket: "bucket", key: "there") == 5 << 30)
        #expect(try await client.headObject(bucket: "bucket", key: "missing") == nil)
        client.shutdown()
        try await server.stop()
    }

    @Test func connectionsAreBoundedAndReused() async throws {
        let server = try await ScriptedHTTPServer { _, _ in .init(status: .ok, body: "x", delay: .milliseconds(20)) }
        let client = try Self.client(port: server.port, maxConnections: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask { _ = try await client.getObject(bucket: "bucket", key: "k\(index)") }
            }
            try await group.waitForAll()
        }
        let statistics = server.snapshot
        #expect(statistics.requests.count == 30)
        #expect(statistics.peakConnections <= 3)
        #expect(statistics.peakConnections >= 2)
        client.shutdown()
        try await server.stop()
    }

    @Test func queryAndKeysAreEncodedOnTheWire() async throws {
        let listing = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
        let server = try await ScriptedHTTPServer { _, _ in .init(status: .ok, body: listing) }
        let client = try Self.client(port: server.port)
        _ = try await client.listObjects(bucket: "bucket", prefix: "a b/", continuationToken: "t+/=")
        _ = try await client.getObject(bucket: "bucket", key: "dir/a+b c$")
        let uris = server.snapshot.requests.map(\.uri)
        #expect(uris == [
            "/bucket?continuation-token=t%2B%2F%3D&list-type=2&max-keys=1000&prefix=a%20b%2F",
            "/bucket/dir/a%2Bb%20c%24",
        ])
        client.shutdown()
        try await server.stop()
    }
}
