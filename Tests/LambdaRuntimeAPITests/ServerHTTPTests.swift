import Testing

@testable import LambdaRuntimeAPI

/// The local server driven with hand-written HTTP over a raw socket.
@Suite("Local server over raw HTTP", .timeLimit(.minutes(1)))
struct ServerHTTPTests {
    private static let next = "/2018-06-01/runtime/invocation/next"

    private static func get(_ path: String, extraHeaders: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(extraHeaders)\r\n"
    }

    private static func post(_ path: String, body: String, extraHeaders: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)"
    }

    @Test func unknownPathIs404AndConnectionStaysUsable() async throws {
        try await withRuntime { server, _ in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get("/"))
                let first = try #require(try await connection.readResponse())
                #expect(first.status == 404)
                #expect(first.header("Connection") == nil)

                try await connection.send(Self.get("/2018-06-01/runtime/invocation/next/extra"))
                #expect(try await connection.readResponse()?.status == 404)
                try await connection.send(Self.post("/2018-06-01/runtime/invocation//response", body: ""))
                #expect(try await connection.readResponse()?.status == 404)
                try await connection.send(Self.get("/2019-01-01/runtime/invocation/next"))
                #expect(try await connection.readResponse()?.status == 404)
            }
            #expect(await server.connectionsAccepted() == 1)
        }
    }

    @Test func wrongMethodIs405() async throws {
        try await withRuntime { server, _ in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.post(Self.next, body: "{}"))
                #expect(try await connection.readResponse()?.status == 405)
                try await connection.send(Self.get("/2018-06-01/runtime/invocation/abc/response"))
                #expect(try await connection.readResponse()?.status == 405)
                try await connection.send(Self.get("/2018-06-01/runtime/init/error"))
                #expect(try await connection.readResponse()?.status == 405)
            }
        }
    }

    @Test func nextCarriesTheRuntimeHeaders() async throws {
        try await withRuntime { server, _ in
            let before = RuntimeAPIProtocol.currentEpochMilliseconds()
            let invoke = Task {
                try await server.invoke(payload: Array("{\"op\":\"get\"}".utf8), timeout: .seconds(60))
            }
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next))
                let response = try #require(try await connection.readResponse())
                #expect(response.status == 200)
                #expect(response.bodyText == "{\"op\":\"get\"}")
                let requestID = try #require(response.header("Lambda-Runtime-Aws-Request-Id"))
                #expect(RuntimeAPIProtocol.isValidRequestID(requestID))
                let deadline = try #require(response.header("Lambda-Runtime-Deadline-Ms").flatMap { Int64($0) })
                #expect(deadline >= before + 60_000)
                #expect(
                    response.header("Lambda-Runtime-Invoked-Function-Arn")
                        == LocalRuntimeAPIServer.Configuration().defaultFunctionARN
                )
                #expect(response.header("Lambda-Runtime-Trace-Id")?.hasPrefix("Root=1-") == true)

                try await connection.send(
                    Self.post("/2018-06-01/runtime/invocation/\(requestID)/response", body: "done")
                )
                let accepted = try #require(try await connection.readResponse())
                #expect(accepted.status == 202)
                #expect(accepted.bodyText == #"{"status":"OK"}"#)
            }
            #expect(try await invoke.value == .response(Array("done".utf8)))
        }
    }

    @Test func wrongRequestIDIs400() async throws {
        try await withRuntime { server, _ in
            try await withRawConnection(port: server.port) { connection in
                // Nothing is outstanding yet.
                try await connection.send(Self.post("/2018-06-01/runtime/invocation/nope/response", body: "x"))
                #expect(try await connection.readResponse()?.status == 400)
            }

            let invoke = Task { try await server.invoke(payload: [1], timeout: .seconds(30)) }
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next))
                let delivered = try #require(try await connection.readResponse())
                let requestID = try #require(delivered.header("Lambda-Runtime-Aws-Request-Id"))

                try await connection.send(
                    Self.post("/2018-06-01/runtime/invocation/not-\(requestID)/response", body: "x")
                )
                let rejected = try #require(try await connection.readResponse())
                #expect(rejected.status == 400)
                #expect(ErrorDocument.decodeMembers(rejected.body)?.type == "InvalidRequestID")
                try await connection.send(
                    Self.post("/2018-06-01/runtime/invocation/not-\(requestID)/error", body: "{}")
                )
                #expect(try await connection.readResponse()?.status == 400)

                try await connection.send(Self.post("/2018-06-01/runtime/invocation/\(requestID)/response", body: "ok"))
                #expect(try await connection.readResponse()?.status == 202)
                // A second answer to the same invocation is refused.
                try await connection.send(
                    Self.post("/2018-06-01/runtime/invocation/\(requestID)/response", body: "again")
                )
                #expect(try await connection.readResponse()?.status == 400)
            }
            #expect(try await invoke.value == .response(Array("ok".utf8)))
        }
    }

    @Test func oversizedBodyIs413AndServerKeepsServing() async throws {
        let configuration = LocalRuntimeAPIServer.Configuration(maxRequestBodySize: 1024)
        try await withRuntime(server: configuration) { server, client in
            let big = String(repeating: "z", count: 1536)
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.post("/2018-06-01/runtime/invocation/abc/response", body: big))
                let response = try #require(try await connection.readResponse())
                #expect(response.status == 413)
                #expect(response.header("Connection")?.lowercased() == "close")
                #expect(try await connection.closedByPeer())
            }

            // Without Content-Length the limit still holds while the chunks arrive.
            try await withRawConnection(port: server.port) { connection in
                var request =
                    "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                for _ in 0..<3 {
                    request += "200\r\n" + String(repeating: "y", count: 512) + "\r\n"
                }
                request += "0\r\n\r\n"
                try await connection.send(request)
                #expect(try await connection.readResponse()?.status == 413)
                #expect(try await connection.closedByPeer())
            }
            #expect(await server.initializationError() == nil)

            // A body beyond twice the limit is not drained: the connection is dropped (and the
            // 413 may be lost to a reset).
            try await withRawConnection(port: server.port) { connection in
                let huge = String(repeating: "h", count: 256 * 1024)
                try? await connection.send(Self.post("/2018-06-01/runtime/init/error", body: huge))
                if let response = await connection.readResponseOrReset() {
                    #expect(response.status == 413)
                }
                #expect((try? await connection.closedByPeer()) != false)
            }
            #expect(await server.initializationError() == nil)

            // A body exactly at the limit is fine.
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(
                    Self.post("/2018-06-01/runtime/init/error", body: String(repeating: "e", count: 1024))
                )
                #expect(try await connection.readResponse()?.status == 202)
            }

            async let result = server.invoke(payload: [1], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            try await client.respond(to: invocation.requestID, payload: [2])
            #expect(try await result == .response([2]))
        }
    }

    @Test(arguments: [
        Array("\u{00}\u{01}\u{02} garbage \r\n\r\n".utf8),
        Array("GET / HTTP/9.9\r\n\r\n".utf8),
        Array("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nBad Header\r\n\r\n".utf8),
        [UInt8](repeating: 0xFF, count: 64) + Array("\r\n\r\n".utf8),
    ])
    func malformedHTTPGets400WithoutHurtingTheServer(garbage: [UInt8]) async throws {
        try await withRuntime { server, client in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(garbage)
                #expect(try await connection.readResponse()?.status == 400)
                #expect(try await connection.closedByPeer())
            }
            async let result = server.invoke(payload: [1], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            try await client.respond(to: invocation.requestID, payload: [1])
            #expect(try await result == .response([1]))
        }
    }

    @Test func oversizedHeadersAreRefused() async throws {
        let configuration = LocalRuntimeAPIServer.Configuration(maxRequestHeaderSize: 1024)
        try await withRuntime(server: configuration) { server, _ in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(
                    Self.get("/", extraHeaders: "X-Big: \(String(repeating: "h", count: 4096))\r\n")
                )
                // NIO answers 400 and closes at once, so the 400 may be lost to a reset.
                if let response = await connection.readResponseOrReset() {
                    #expect(response.status == 400)
                }
                #expect((try? await connection.closedByPeer()) != false)
            }
            #expect(await server.parkedPollCount() == 0)
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(
                    Self.get("/", extraHeaders: "X-Small: \(String(repeating: "h", count: 512))\r\n")
                )
                #expect(try await connection.readResponse()?.status == 404)
            }
        }
    }

    @Test func pollFromAClosedConnectionDoesNotSwallowTheInvocation() async throws {
        try await withRuntime { server, client in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next))
                #expect(try await eventually { await server.parkedPollCount() == 1 })
            }
            #expect(try await eventually { await server.parkedPollCount() == 0 })

            async let result = server.invoke(payload: [42], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            #expect(invocation.payload == [42])
            try await client.respond(to: invocation.requestID, payload: [43])
            #expect(try await result == .response([43]))
        }
    }

    @Test func requestPipelinedBehindAPollClosesTheConnection() async throws {
        try await withRuntime { server, _ in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next) + Self.get("/"))
                #expect(try await connection.closedByPeer())
            }
            #expect(await server.parkedPollCount() == 0)
        }
    }

    @Test func errorReportWithoutJSONUsesHeaderTypeAndRawBody() async throws {
        try await withRuntime { server, _ in
            let invoke = Task { try await server.invoke(payload: [1], timeout: .seconds(30)) }
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next))
                let delivered = try #require(try await connection.readResponse())
                let requestID = try #require(delivered.header("Lambda-Runtime-Aws-Request-Id"))
                try await connection.send(
                    Self.post(
                        "/2018-06-01/runtime/invocation/\(requestID)/error",
                        body: "segfault at 0x0",
                        extraHeaders: "Lambda-Runtime-Function-Error-Type: Runtime.ExitError\r\n"
                    )
                )
                #expect(try await connection.readResponse()?.status == 202)
            }
            #expect(try await invoke.value == .functionError(type: "Runtime.ExitError", message: "segfault at 0x0"))
        }
    }

    @Test func errorReportWithNoTypeAnywhereIsUnhandled() async throws {
        try await withRuntime { server, _ in
            let invoke = Task { try await server.invoke(payload: [1], timeout: .seconds(30)) }
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get(Self.next))
                let delivered = try #require(try await connection.readResponse())
                let requestID = try #require(delivered.header("Lambda-Runtime-Aws-Request-Id"))
                try await connection.send(
                    Self.post("/2018-06-01/runtime/invocation/\(requestID)/error", body: #"{"errorMessage":"boom"}"#)
                )
                #expect(try await connection.readResponse()?.status == 202)
            }
            #expect(try await invoke.value == .functionError(type: "Unhandled", message: "boom"))
        }
    }

    @Test func connectionCloseRequestIsHonoured() async throws {
        try await withRuntime { server, _ in
            try await withRawConnection(port: server.port) { connection in
                try await connection.send(Self.get("/nothing", extraHeaders: "Connection: close\r\n"))
                let response = try #require(try await connection.readResponse())
                #expect(response.status == 404)
                #expect(response.header("Connection")?.lowercased() == "close")
                #expect(try await connection.closedByPeer())
            }
        }
    }
}
