import Testing

@testable import LambdaRuntimeAPI

/// The client against the local server over real loopback TCP.
@Suite("Client and local server end to end", .timeLimit(.minutes(1)))
struct EndToEndTests {
    @Test func invocationRoundTripCarriesPayloadAndHeaders() async throws {
        try await withRuntime { server, client in
            let arn = "arn:aws:lambda:us-east-1:123456789012:function:node-7"
            let before = RuntimeAPIProtocol.currentEpochMilliseconds()
            async let result = server.invoke(payload: Array("hello".utf8), timeout: .seconds(30), functionARN: arn)

            let invocation = try await client.nextInvocation()
            #expect(invocation.payload == Array("hello".utf8))
            #expect(invocation.invokedFunctionARN == arn)
            #expect(invocation.requestID.utf8.count == 36)
            #expect(invocation.deadlineEpochMilliseconds >= before + 30_000)
            #expect(invocation.deadlineEpochMilliseconds <= RuntimeAPIProtocol.currentEpochMilliseconds() + 30_000)
            #expect(invocation.remainingTime() > .seconds(20))
            #expect(invocation.traceID?.hasPrefix("Root=1-") == true)
            #expect(invocation.clientContext == nil)

            try await client.respond(to: invocation.requestID, payload: Array("world".utf8))
            #expect(try await result == .response(Array("world".utf8)))
        }
    }

    @Test func defaultFunctionARNIsUsedWhenNoneIsGiven() async throws {
        let configuration = LocalRuntimeAPIServer.Configuration(defaultFunctionARN: "arn:test:default")
        try await withRuntime(server: configuration) { server, client in
            async let result = server.invoke(payload: [], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            #expect(invocation.invokedFunctionARN == "arn:test:default")
            try await client.respond(to: invocation.requestID, payload: [UInt8]())
            #expect(try await result == .response([]))
        }
    }

    /// Payload shapes, named so test output stays short.
    enum PayloadShape: String, CaseIterable, Sendable {
        case empty, nulBytesOnly, everyByteValue, oneMebibyte

        var bytes: [UInt8] {
            switch self {
            case .empty: []
            case .nulBytesOnly: [0, 0, 0]
            case .everyByteValue: Array(0...255) + Array((0...255).reversed())
            case .oneMebibyte: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
            }
        }
    }

    @Test(arguments: PayloadShape.allCases)
    func binaryPayloadsSurviveBothDirections(shape: PayloadShape) async throws {
        let payload = shape.bytes
        try await withRuntime { server, client in
            async let result = server.invoke(payload: payload, timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            #expect(invocation.payload == payload)
            let answer = Array(payload.reversed()) + [0]
            try await client.respond(to: invocation.requestID, payload: answer)
            #expect(try await result == .response(answer))
        }
    }

    @Test func sequentialInvocationsReuseOneConnection() async throws {
        try await withRuntime { server, client in
            var seenIDs: Set<String> = []
            for round in 0..<5 {
                async let result = server.invoke(payload: [UInt8(round)], timeout: .seconds(30))
                let invocation = try await client.nextInvocation()
                #expect(invocation.payload == [UInt8(round)])
                seenIDs.insert(invocation.requestID)
                try await client.respond(to: invocation.requestID, payload: [UInt8(round), 0xFF])
                #expect(try await result == .response([UInt8(round), 0xFF]))
            }
            #expect(seenIDs.count == 5)
            #expect(await server.connectionsAccepted() == 1)
        }
    }

    @Test func clientReconnectsAfterItsConnectionCloses() async throws {
        try await withRuntime { server, client in
            for round in 0..<2 {
                async let result = server.invoke(payload: [UInt8(round)], timeout: .seconds(30))
                let invocation = try await client.nextInvocation()
                try await client.respond(to: invocation.requestID, payload: invocation.payload)
                #expect(try await result == .response([UInt8(round)]))
                await client.close()
            }
            #expect(await server.connectionsAccepted() == 2)
        }
    }

    @Test func reportedErrorBecomesFunctionError() async throws {
        try await withRuntime { server, client in
            let type = "Handler.Crash"
            let message = "bad \"chunk\" at \\offset\n\t1024 — ünïcødé 🚀 \u{01}"
            async let result = server.invoke(payload: [1, 2, 3], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            try await client.reportError(for: invocation.requestID, type: type, message: message)
            #expect(try await result == .functionError(type: type, message: message))

            // The instance keeps serving after a function error.
            async let next = server.invoke(payload: [4], timeout: .seconds(30))
            let second = try await client.nextInvocation()
            try await client.respond(to: second.requestID, payload: [5])
            #expect(try await next == .response([5]))
        }
    }

    @Test func initializationErrorIsAcceptedAndAnswersQueuedInvocations() async throws {
        try await withRuntime { server, client in
            #expect(await server.initializationError() == nil)
            async let queued = server.invoke(payload: [9], timeout: .seconds(30))
            #expect(try await eventually { await server.pendingInvocationCount() == 1 })
            try await client.reportInitializationError(type: "Runtime.ConfigMissing", message: "no REDIS_PORT")
            #expect(try await queued == .functionError(type: "Runtime.ConfigMissing", message: "no REDIS_PORT"))
            let recorded = try #require(await server.initializationError())
            #expect(recorded.type == "Runtime.ConfigMissing")
            #expect(recorded.message == "no REDIS_PORT")
        }
    }

    @Test func nextInvocationLongPollsUntilAnInvocationArrives() async throws {
        try await withRuntime { server, client in
            let finished = Flag()
            let poll = Task {
                let invocation = try await client.nextInvocation()
                await finished.set()
                return invocation
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await eventually { await server.parkedPollCount() == 1 })
            #expect(await finished.isSet == false)

            async let result = server.invoke(payload: Array("late".utf8), timeout: .seconds(30))
            let invocation = try await poll.value
            #expect(invocation.payload == Array("late".utf8))
            try await client.respond(to: invocation.requestID, payload: Array("ok".utf8))
            #expect(try await result == .response(Array("ok".utf8)))
        }
    }

    @Test func invocationsAreDeliveredOneAtATimeInOrder() async throws {
        try await withRuntime { server, first in
            let second = try RuntimeAPIClient(endpoint: server.endpoint)

            let a = Task { try await server.invoke(payload: [0xA], timeout: .seconds(30)) }
            let invocationA = try await first.nextInvocation()
            #expect(invocationA.payload == [0xA])

            let b = Task { try await server.invoke(payload: [0xB], timeout: .seconds(30)) }
            #expect(try await eventually { await server.pendingInvocationCount() == 2 })
            let c = Task { try await server.invoke(payload: [0xC], timeout: .seconds(30)) }

            // While A is unanswered, B must not go out, even to another poller.
            let received = Flag()
            let pollB = Task {
                let invocation = try await second.nextInvocation()
                await received.set()
                return invocation
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await eventually { await server.parkedPollCount() == 1 })
            #expect(await received.isSet == false)

            try await first.respond(to: invocationA.requestID, payload: [0xA, 1])
            let invocationB = try await pollB.value
            #expect(invocationB.payload == [0xB])
            try await second.respond(to: invocationB.requestID, payload: [0xB, 1])

            let invocationC = try await first.nextInvocation()
            #expect(invocationC.payload == [0xC])
            try await first.respond(to: invocationC.requestID, payload: [0xC, 1])

            #expect(try await a.value == .response([0xA, 1]))
            #expect(try await b.value == .response([0xB, 1]))
            #expect(try await c.value == .response([0xC, 1]))
            await second.close()
        }
    }

    @Test func failOutstandingFailsDeliveredAndQueuedInvocations() async throws {
        try await withRuntime { server, client in
            let delivered = Task { try await server.invoke(payload: [1], timeout: .seconds(30)) }
            let invocation = try await client.nextInvocation()
            let queued = Task { try await server.invoke(payload: [2], timeout: .seconds(30)) }
            #expect(try await eventually { await server.pendingInvocationCount() == 2 })

            await server.failOutstanding(reason: "node process exited with status 137")
            let error = await expectRuntimeError(.instanceFailed) { try await delivered.value }
            #expect(error?.message.contains("status 137") == true)
            await expectRuntimeError(.instanceFailed) { try await queued.value }

            // The failed invocation can no longer be answered.
            await expectRuntimeError(.unexpectedStatus) {
                try await client.respond(to: invocation.requestID, payload: [1])
            }

            // A restarted runtime can still be served.
            async let fresh = server.invoke(payload: [3], timeout: .seconds(30))
            let next = try await client.nextInvocation()
            #expect(next.payload == [3])
            try await client.respond(to: next.requestID, payload: [4])
            #expect(try await fresh == .response([4]))
        }
    }

    @Test func shutdownFailsPendingInvocationsAndClosesConnections() async throws {
        let server = try await LocalRuntimeAPIServer.start()
        let client = try RuntimeAPIClient(endpoint: server.endpoint)
        let poller = try RuntimeAPIClient(endpoint: server.endpoint)

        let delivered = Task { try await server.invoke(payload: [1], timeout: .seconds(30)) }
        let invocation = try await client.nextInvocation()
        let queued = Task { try await server.invoke(payload: [2], timeout: .seconds(30)) }
        let parked = Task { try await poller.nextInvocation() }
        #expect(try await eventually { await server.parkedPollCount() == 1 })
        #expect(try await eventually { await server.pendingInvocationCount() == 2 })

        await server.shutdown()
        await expectRuntimeError(.shutDown) { try await delivered.value }
        await expectRuntimeError(.shutDown) { try await queued.value }
        await expectRuntimeError(.connectionClosed) { try await parked.value }
        await expectRuntimeError(.shutDown) { try await server.invoke(payload: [3], timeout: .seconds(1)) }
        // The client may or may not have seen its connection close yet; either way it cannot
        // get through to a server that is gone.
        do {
            try await client.respond(to: invocation.requestID, payload: [1])
            Issue.record("respond succeeded after shutdown")
        } catch let error as RuntimeAPIError {
            #expect(error.code == .connectionClosed || error.code == .connectionFailed, "\(error)")
        }
        await expectRuntimeError(.connectionFailed) {
            try await client.respond(to: invocation.requestID, payload: [1])
        }

        await server.shutdown()
        await client.close()
        await poller.close()
    }

    @Test func unansweredQueuedInvocationTimesOut() async throws {
        try await withRuntime { server, _ in
            let start = ContinuousClock.now
            await expectRuntimeError(.timedOut) {
                try await server.invoke(payload: [1], timeout: .milliseconds(100))
            }
            #expect(ContinuousClock.now - start >= .milliseconds(100))
        }
    }

    @Test func deliveredInvocationTimesOutAndLateAnswerIsRejected() async throws {
        try await withRuntime { server, client in
            // Long enough that a loaded machine still delivers it before the deadline; otherwise
            // the poll below would wait for an invocation that already timed out in the queue.
            let slow = Task { try await server.invoke(payload: [1], timeout: .seconds(2)) }
            let invocation = try await client.nextInvocation()
            #expect(invocation.remainingTime() <= .seconds(2))
            await expectRuntimeError(.timedOut) { try await slow.value }

            let error = await expectRuntimeError(.unexpectedStatus) {
                try await client.respond(to: invocation.requestID, payload: [1])
            }
            #expect(error?.message.contains("400") == true)

            async let next = server.invoke(payload: [2], timeout: .seconds(30))
            let second = try await client.nextInvocation()
            #expect(second.payload == [2])
            try await client.respond(to: second.requestID, payload: [2])
            #expect(try await next == .response([2]))
        }
    }

    @Test func cancelledInvokeIsWithdrawnFromTheQueue() async throws {
        try await withRuntime { server, client in
            let cancelled = Task { try await server.invoke(payload: [0xDE, 0xAD], timeout: .seconds(30)) }
            #expect(try await eventually { await server.pendingInvocationCount() == 1 })
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            #expect(await server.pendingInvocationCount() == 0)

            async let live = server.invoke(payload: [0x11], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            #expect(invocation.payload == [0x11])
            try await client.respond(to: invocation.requestID, payload: [0x22])
            #expect(try await live == .response([0x22]))
        }
    }

    @Test func cancelledPollDoesNotSwallowTheNextInvocation() async throws {
        try await withRuntime { server, client in
            let poll = Task { try await client.nextInvocation() }
            #expect(try await eventually { await server.parkedPollCount() == 1 })
            poll.cancel()
            await #expect(throws: CancellationError.self) { try await poll.value }
            #expect(try await eventually { await server.parkedPollCount() == 0 })

            async let result = server.invoke(payload: [7], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            #expect(invocation.payload == [7])
            try await client.respond(to: invocation.requestID, payload: [8])
            #expect(try await result == .response([8]))
            #expect(await server.connectionsAccepted() == 2)
        }
    }

    @Test func oversizedResponseIsRefusedWith413() async throws {
        let configuration = LocalRuntimeAPIServer.Configuration(maxRequestBodySize: 1024)
        try await withRuntime(server: configuration) { server, client in
            async let result = server.invoke(payload: [1], timeout: .seconds(30))
            let invocation = try await client.nextInvocation()
            await expectRuntimeError(.payloadTooLarge) {
                try await client.respond(to: invocation.requestID, payload: [UInt8](repeating: 7, count: 4096))
            }
            // The invocation is still open: the runtime can report the failure instead.
            try await client.reportError(
                for: invocation.requestID,
                type: "Function.ResponseSizeTooLarge",
                message: "4096 bytes"
            )
            #expect(try await result == .functionError(type: "Function.ResponseSizeTooLarge", message: "4096 bytes"))
        }
    }

    @Test func invalidRequestIDIsRejectedBeforeSending() async throws {
        try await withRuntime { server, client in
            await expectRuntimeError(.invalidArgument) { try await client.respond(to: "../init/error", payload: [1]) }
            await expectRuntimeError(.invalidArgument) {
                try await client.reportError(for: "", type: "T", message: "m")
            }
            #expect(await server.connectionsAccepted() == 0)
        }
    }
}
