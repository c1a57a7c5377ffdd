import COSTestSupport
import InfiniCOS
import InfiniNodeProtocol
import LambdaRuntimeAPI
import NIOCore
import NIOPosix
import Testing

@testable import InfiniNode

/// The node runtime against a real loopback Runtime API.
@Suite(.timeLimit(.minutes(1))) struct MemoryNodeRuntimeTests {
    /// An invocation the invoker gave up on (cancelled, as when the proxy stops) refuses the
    /// node's late answer; the node must go on to the next invocation, its memory intact,
    /// rather than exit.
    @Test func aRefusedAnswerLeavesTheNodeServing() async throws {
        let api = try await LocalRuntimeAPIServer.start()
        let (accepted, acceptedContinuation) = AsyncStream.makeStream(of: (any Channel).self)
        // A proxy that takes the node's connection and never answers its hello.
        let silentProxy = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                acceptedContinuation.yield(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let node = Task { try await MemoryNodeRuntime(persister: nil, runtimeAPIEndpoint: api.endpoint).run() }
        func event(_ command: InvocationEvent.Command) -> [UInt8] {
            let address = "127.0.0.1:\(silentProxy.localAddress?.port ?? 0)"
            return InvocationEvent(nodeID: 0, proxyAddress: address, session: "s", token: "t", command: command).encoded()
        }

        let abandoned = Task { try await api.invoke(payload: event(.ping), timeout: .seconds(30)) }
        var connections = accepted.makeAsyncIterator()
        let connection = try #require(await connections.next())
        abandoned.cancel()
        await #expect(throws: CancellationError.self) { try await abandoned.value }
        // The node's stay ends now, and its answer to the abandoned invocation is refused.
        try await connection.close()

        let result = try await api.invoke(payload: event(.warmup), timeout: .seconds(20))
        guard case .response(let bytes) = result else {
            Issue.record("the warm-up got \(result)")
            return
        }
        #expect(try InvocationOutcome(decoding: bytes).nodeID == 0)
        node.cancel()
        try await silentProxy.close()
        await api.shutdown()
    }

    /// A node that starts with empty memory reads its lineage on its first invocation and brings
    /// back the chunks it lists before answering (a sandbox is frozen once it answers).
    @Test func aColdNodeRestoresWhatItsLineageListsOnItsFirstInvocation() async throws {
        let storage = MemoryObjectStorage()
        let (lineage, _) = try await NodeLineage.open(node: 3, storage: storage)
        for version in 1...20 {
            let chunk = "\(version)/0/1"
            try await storage.put(ChunkPersister.objectName(forChunk: chunk), bytes: ByteBuffer(repeating: 7, count: 100))
            lineage.record(.set(chunk: chunk, size: 100))
        }
        lineage.record(.delete(chunk: "20/0/1"))
        try await lineage.closeTerm()

        let api = try await LocalRuntimeAPIServer.start()
        let node = Task { try await MemoryNodeRuntime(persister: ChunkPersister(storage: storage), runtimeAPIEndpoint: api.endpoint).run() }
        let event = InvocationEvent(nodeID: 3, proxyAddress: "127.0.0.1:1", session: "s", token: "t", command: .warmup)
        guard case .response(let first) = try await api.invoke(payload: event.encoded(), timeout: .seconds(20)) else {
            Issue.record("the warm-up failed")
            return
        }
        let outcome = try InvocationOutcome(decoding: first)
        #expect(outcome.restoredChunks == 19)
        #expect(outcome.chunks == 19)
        #expect(outcome.bytes == 1_900)
        #expect(outcome.startedEmpty)
        guard case .response(let second) = try await api.invoke(payload: event.encoded(), timeout: .seconds(20)) else {
            Issue.record("the second warm-up failed")
            return
        }
        let again = try InvocationOutcome(decoding: second)
        #expect(again.restoredChunks == 0 && !again.startedEmpty)
        node.cancel()
        await api.shutdown()
    }
}
