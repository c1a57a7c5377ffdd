import HistoryChecking
import PortTestSupport
import Testing

@Suite struct EndToEndTests {
    /// Eight clients on three keys against the proxy over in-process memory nodes, with values
    /// large enough to be erasure-coded rather than replicated.
    @Test func proxyIsLinearizable() async throws {
        try await withProxy { port in
            let history = try await runRegisterWorkload(
                clients: 8, keys: 3, operations: 60, valueSize: 5000, port: port,
                options: RegisterWorkloadOptions(readFraction: 0.5, deleteFraction: 0.1)
            )
            let result = LinearizabilityChecker().check(history)
            #expect(result.isLinearizable, "\(result)")
            // The run must have been a real test: busy, concurrent, and reads saw writes.
            #expect(history.count == 8 * 60, "\(result)")
            #expect(Set(history.map(\.client)).count == 8)
            #expect(Set(history.map(\.key)).count == 3)
            #expect(history.contains { if case .returned(.some) = $0.outcome { true } else { false } })
            #expect(history.contains { $0.kind == .delete && $0.outcome == .ok })
            #expect(history.allSatisfy { $0.outcome != .unknown }, "no request should fail against a healthy proxy")
        }
    }

    @Test func correctTestServerIsLinearizable() async throws {
        let server = RegisterServer(.correct)
        try await withServer(server.run) { port in
            let history = try await runRegisterWorkload(clients: 6, keys: 2, operations: 150, port: port)
            #expect(history.count == 900)
            let result = LinearizabilityChecker().check(history)
            #expect(result.isLinearizable, "\(result)")
        }
    }

    @Test func staleReadsAreCaught() async throws {
        let server = RegisterServer(.staleReads(every: 5))
        try await withServer(server.run) { port in
            let history = try await runRegisterWorkload(clients: 6, keys: 2, operations: 150, port: port)
            let result = LinearizabilityChecker().check(history)
            #expect(!result.isLinearizable)
            #expect(result.undecidedKeys.isEmpty, "\(result)")
            // What cannot be placed is a read: the server only ever corrupts those.
            #expect(result.violations.contains { $0.blocked.kind == .read }, "\(result)")
        }
    }

    @Test func workloadRecordsUnansweredRequestsAsUnknown() async throws {
        let server = RegisterServer(.silent)
        try await withServer(server.run) { port in
            let history = try await runRegisterWorkload(
                clients: 2, keys: 1, operations: 2, port: port,
                options: RegisterWorkloadOptions(requestTimeout: .milliseconds(100))
            )
            #expect(history.count == 4)
            #expect(history.allSatisfy { $0.outcome == .unknown })
            #expect(LinearizabilityChecker().check(history).isLinearizable)
        }
    }

    @Test func workloadFailsOnRepliesOfTheWrongType() async throws {
        let server = RegisterServer(.integerReplies)
        try await withServer(server.run) { port in
            let error = await #expect(throws: TestRedisClientError.self) {
                _ = try await runRegisterWorkload(
                    clients: 3, keys: 1, operations: 1_000, port: port,
                    options: RegisterWorkloadOptions(readFraction: 0)
                )
            }
            #expect(error?.reason == .unexpectedReply)
            #expect(error?.message == "unexpected reply to SET: integer(1)")
        }
    }

    @Test func workloadFailsWhenTheServerIsDown() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let error = await #expect(throws: TestRedisClientError.self) {
            _ = try await runRegisterWorkload(clients: 2, keys: 1, operations: 10, port: refusing.port)
        }
        #expect(error?.reason == .connectFailed)
    }
}
