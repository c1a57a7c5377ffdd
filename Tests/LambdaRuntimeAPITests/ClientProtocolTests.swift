import NIOCore
import NIOPosix
import Testing

@testable import LambdaRuntimeAPI

/// The client against a scripted fake Runtime API: wire format and hostile responses.
@Suite("Client against a scripted Runtime API", .timeLimit(.minutes(1)))
struct ClientProtocolTests {
    private static let accepted = httpResponse(status: "202 Accepted", body: Array(#"{"status":"OK"}"#.utf8))

    private static func nextResponse(
        headers: [(String, String)] = [
            ("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            ("Lambda-Runtime-Deadline-Ms", "1542409706888"),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime"),
        ],
        body: [UInt8] = Array("{}".utf8)
    ) -> [UInt8] {
        httpResponse(headers: headers, body: body)
    }

    @Test func requestsOnTheWireFollowTheRuntimeAPI() async throws {
        try await ScriptedRuntimeAPI.with([.send(Self.accepted), .send(Self.accepted), .send(Self.accepted)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            try await client.respond(to: "req-1", payload: [0x00, 0x41, 0x00])
            try await client.reportError(for: "req-2", type: "Handler.Fail\r\nX-Injected: 1", message: "line1\nline2")
            try await client.reportInitializationError(type: "Runtime.Init", message: "no config")
            await client.close()

            let requests = try await fake.requests()
            try #require(requests.count == 3)

            let respond = requests[0]
            #expect(respond.hasPrefix("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\n"))
            #expect(respond.lowercased().contains("content-length: 3\r\n"))
            #expect(respond.lowercased().contains("host: 127.0.0.1:\(fake.port)\r\n"))
            #expect(Array(respond.utf8.suffix(3)) == [0x00, 0x41, 0x00])

            let error = requests[1]
            #expect(error.hasPrefix("POST /2018-06-01/runtime/invocation/req-2/error HTTP/1.1\r\n"))
            #expect(error.contains("Lambda-Runtime-Function-Error-Type: Handler.FailX-Injected: 1\r\n"))
            #expect(error.contains("Content-Type: application/vnd.aws.lambda.error+json\r\n"))
            #expect(!error.contains("\r\nX-Injected"))
            let errorBody = try #require(error.split(separator: "\r\n\r\n", maxSplits: 1).last)
            let members = try #require(ErrorDocument.decodeMembers(Array(errorBody.utf8)))
            #expect(members.type == "Handler.Fail\r\nX-Injected: 1")
            #expect(members.message == "line1\nline2")
            #expect(errorBody.contains(#""stackTrace":[]"#))

            #expect(requests[2].hasPrefix("POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"))
            #expect(requests[2].contains("Lambda-Runtime-Function-Error-Type: Runtime.Init\r\n"))
            #expect(try await fake.connectionCount() == 1)
        }
    }

    @Test func nextInvocationReadsEveryHeader() async throws {
        let headers = [
            ("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            ("lambda-runtime-deadline-ms", "1542409706888"),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime"),
            ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"),
            ("Lambda-Runtime-Client-Context", #"{"client":{}}"#),
            ("Lambda-Runtime-Cognito-Identity", #"{"cognitoIdentityId":"x"}"#),
        ]
        try await ScriptedRuntimeAPI.with([.send(Self.nextResponse(headers: headers, body: [9, 0, 9]))]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            let invocation = try await client.nextInvocation()
            await client.close()
            #expect(
                invocation
                    == Invocation(
                        requestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                        deadlineEpochMilliseconds: 1_542_409_706_888,
                        invokedFunctionARN: "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
                        traceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                        clientContext: #"{"client":{}}"#,
                        cognitoIdentity: #"{"cognitoIdentityId":"x"}"#,
                        payload: [9, 0, 9]
                    )
            )
            #expect(invocation.remainingTime() < .zero)
            let request = try #require(try await fake.requests().first)
            #expect(request.hasPrefix("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"))
        }
    }

    @Test(arguments: [
        (
            "missing request id",
            [
                ("Lambda-Runtime-Deadline-Ms", "1"), ("Lambda-Runtime-Invoked-Function-Arn", "arn"),
            ]
        ),
        (
            "request id unusable in a path",
            [
                ("Lambda-Runtime-Aws-Request-Id", "../../init/error"), ("Lambda-Runtime-Deadline-Ms", "1"),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn"),
            ]
        ),
        (
            "missing deadline",
            [
                ("Lambda-Runtime-Aws-Request-Id", "abc"), ("Lambda-Runtime-Invoked-Function-Arn", "arn"),
            ]
        ),
        (
            "non-numeric deadline",
            [
                ("Lambda-Runtime-Aws-Request-Id", "abc"), ("Lambda-Runtime-Deadline-Ms", "soon"),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn"),
            ]
        ),
        (
            "missing ARN",
            [
                ("Lambda-Runtime-Aws-Request-Id", "abc"), ("Lambda-Runtime-Deadline-Ms", "1"),
            ]
        ),
    ])
    func invalidInvocationHeadersAreMalformed(_ label: String, headers: [(String, String)]) async throws {
        try await ScriptedRuntimeAPI.with([.send(Self.nextResponse(headers: headers))]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            await expectRuntimeError(.malformedResponse) { try await client.nextInvocation() }
            await client.close()
        }
    }

    @Test func declaredOversizedBodyIsRejected() async throws {
        let configuration = RuntimeAPIClient.Configuration(maxResponseBodySize: 1024)
        let oversized = httpResponse(
            headers: [("Lambda-Runtime-Aws-Request-Id", "a")],
            body: [],
            contentLength: 1 << 40
        )
        try await ScriptedRuntimeAPI.with([.send(oversized)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint, configuration: configuration)
            await expectRuntimeError(.responseTooLarge) { try await client.nextInvocation() }
            await client.close()
        }
    }

    @Test func streamedOversizedBodyIsRejected() async throws {
        let configuration = RuntimeAPIClient.Configuration(maxResponseBodySize: 1024)
        var chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<4 {
            chunked += Array("200\r\n".utf8) + [UInt8](repeating: 0x61, count: 512) + Array("\r\n".utf8)
        }
        chunked += Array("0\r\n\r\n".utf8)
        try await ScriptedRuntimeAPI.with([.send(chunked)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint, configuration: configuration)
            await expectRuntimeError(.responseTooLarge) { try await client.nextInvocation() }
            await client.close()
        }
    }

    @Test func bodyExactlyAtTheLimitIsAccepted() async throws {
        let configuration = RuntimeAPIClient.Configuration(maxResponseBodySize: 1024)
        let payload = [UInt8](repeating: 0, count: 1024)
        try await ScriptedRuntimeAPI.with([.send(Self.nextResponse(body: payload))]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint, configuration: configuration)
            #expect(try await client.nextInvocation().payload == payload)
            await client.close()
        }
    }

    @Test func oversizedHeadersAreRejected() async throws {
        let configuration = RuntimeAPIClient.Configuration(maxResponseHeaderSize: 1024)
        let response = httpResponse(headers: [("X-Padding", String(repeating: "p", count: 4096))])
        try await ScriptedRuntimeAPI.with([.send(response)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint, configuration: configuration)
            await expectRuntimeError(.responseTooLarge) { try await client.nextInvocation() }
            await client.close()
        }
    }

    @Test func garbageResponseIsMalformed() async throws {
        try await ScriptedRuntimeAPI.with([.send(Array("SMTP ready\r\n\r\n".utf8))]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            await expectRuntimeError(.malformedResponse) { try await client.nextInvocation() }
            await client.close()
        }
    }

    @Test func closedConnectionIsReportedAndTheNextCallReconnects() async throws {
        try await ScriptedRuntimeAPI.with([.close, .send(Self.nextResponse())]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            await expectRuntimeError(.connectionClosed) { try await client.nextInvocation() }
            let invocation = try await client.nextInvocation()
            #expect(invocation.requestID == "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
            #expect(try await fake.connectionCount() == 2)
            await client.close()
        }
    }

    @Test func connectionCloseResponseIsHonouredAndTheNextCallReconnects() async throws {
        let closing = httpResponse(status: "202 Accepted", headers: [("Connection", "close")])
        try await ScriptedRuntimeAPI.with([.send(closing), .send(Self.accepted)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            try await client.respond(to: "a", payload: [1])
            try await client.respond(to: "b", payload: [2])
            #expect(try await fake.connectionCount() == 2)
            await client.close()
        }
    }

    @Test func refusalsMapToErrorCodesWithTheServersMessage() async throws {
        let containerError = httpResponse(
            status: "500 Internal Server Error",
            body: Array(#"{"errorMessage":"container is shutting down","errorType":"ContainerError"}"#.utf8)
        )
        let tooLarge = httpResponse(status: "413 Payload Too Large")
        let unexpectedOK = httpResponse(status: "200 OK")
        try await ScriptedRuntimeAPI.with([.send(containerError), .send(tooLarge), .send(unexpectedOK)]) { fake in
            let client = try RuntimeAPIClient(endpoint: fake.endpoint)
            let error = await expectRuntimeError(.unexpectedStatus) { try await client.nextInvocation() }
            #expect(error?.message.contains("500") == true)
            #expect(error?.message.contains("container is shutting down") == true)
            await expectRuntimeError(.payloadTooLarge) { try await client.respond(to: "a", payload: [1]) }
            await expectRuntimeError(.unexpectedStatus) { try await client.respond(to: "a", payload: [1]) }
            await client.close()
        }
    }

    @Test func unreachableEndpointIsConnectionFailed() async throws {
        let server = try await LocalRuntimeAPIServer.start()
        let endpoint = server.endpoint
        await server.shutdown()
        let client = try RuntimeAPIClient(endpoint: endpoint)
        await expectRuntimeError(.connectionFailed) { try await client.nextInvocation() }
    }
}
