import COSTestSupport
import InfiniCOS
import InfiniNode
import InfiniNodeProtocol
import InfiniProxy
import LambdaRuntimeAPI
import NIOCore
import Testing

/// Parallel recovery with the real pool, node port and node runtimes, all in this process over
/// loopback, on a COS whose reads the test can hold: while a node restores, reads of its chunks
/// go to its helpers; once it is done, back to it.
@Suite(.timeLimit(.minutes(1))) struct ParallelRecoveryTests {
    /// Memory nodes in this process, each a `MemoryNodeRuntime` behind its own loopback Runtime
    /// API, all writing to one COS.
    actor InProcessInvoker: Invoker {
        struct Failed: Error { let message: String }

        let storage: any ObjectStorage
        private var nodes: [Int: (api: LocalRuntimeAPIServer, runtime: Task<Void, any Error>)] = [:]

        init(storage: any ObjectStorage) { self.storage = storage }

        func invoke(nodeID: Int, event: [UInt8]) async throws -> [UInt8] {
            switch try await api(for: nodeID).invoke(payload: event, timeout: .seconds(60)) {
            case .response(let bytes): return bytes
            case .functionError(let type, let message): throw Failed(message: "\(type): \(message)")
            }
        }

        private func api(for node: Int) async throws -> LocalRuntimeAPIServer {
            if let running = nodes[node] { return running.api }
            let api = try await LocalRuntimeAPIServer.start()
            if let raced = nodes[node] {
                await api.shutdown()
                return raced.api
            }
            let persister = ChunkPersister(storage: storage)
            let runtime = Task { try await MemoryNodeRuntime(persister: persister, runtimeAPIEndpoint: api.endpoint).run() }
            nodes[node] = (api, runtime)
            return api
        }

        func shutdown() async {
            for node in nodes.values {
                node.runtime.cancel()
                await node.api.shutdown()
            }
            nodes.removeAll()
        }
    }

    private static func bytes(of version: Int) -> ByteBuffer { ByteBuffer(string: "chunk \(version) " + String(repeating: "x", count: 1_000)) }

    @Test func readsOfARestoringNodeGoToItsHelpersUntilItIsDone() async throws {
        // Node 0 held 64 chunks before its memory went; its lineage lists them.
        let storage = MemoryObjectStorage()
        let (lineage, _) = try await NodeLineage.open(node: 0, storage: storage)
        for version in 1...64 {
            try await storage.put(ChunkPersister.objectName(forChunk: "\(version)/0/0"), bytes: Self.bytes(of: version))
            lineage.record(.set(chunk: "\(version)/0/0", size: Self.bytes(of: version).readableBytes))
        }
        try await lineage.closeTerm()
        func partition(_ version: Int) -> Int { NodeProtocol.helperPartition(ofChunk: "\(version)/0/0".utf8, partitions: 2) }
        let inFirst = (1...64).filter { partition($0) == 0 }
        let inSecond = (1...64).filter { partition($0) == 1 }
        // The restore (and the second helper) cannot finish while one chunk's read is held.
        let held = inSecond[0]
        storage.hold(try ChunkPersister.objectName(forChunk: "\(held)/0/0"))

        let invoker = InProcessInvoker(storage: storage)
        let pool = NodePool(
            configuration: .init(nodeCount: 3, recoveryHelpers: 2, bytesPerRecoveryHelper: 1),
            invoker: invoker,
            persistence: PersistenceTracker()
        )
        let (listening, bound) = AsyncStream.makeStream(of: Void.self)
        let services = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await pool.run() }
                group.addTask { try await NodePortServer(host: "127.0.0.1", port: 0, pool: pool).run { _ in bound.yield() } }
            }
        }
        var ready = listening.makeAsyncIterator()
        await ready.next()
        let node = pool.chunkNodes[0]
        func read(_ version: Int) async throws -> ByteBuffer? { try await node.fetch(ChunkID(version: UInt64(version), stripe: 0, shard: 0)) }

        // The first read wakes node 0: it finds its memory gone, restores, and asks for help.
        #expect(try await read(inFirst[0]) == Self.bytes(of: inFirst[0]))
        while pool.recoveryHelpersAssigned < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await read(inFirst[1]) == Self.bytes(of: inFirst[1]))
        #expect(try await read(inSecond[1]) == Self.bytes(of: inSecond[1]))
        #expect(pool.recoveryHelperReads == 2)

        storage.release(try ChunkPersister.objectName(forChunk: "\(held)/0/0"))
        #expect(try await read(held) == Self.bytes(of: held))
        // Once node 0 says it is done, its reads go to it again.
        var helped = pool.recoveryHelperReads
        for version in inFirst.dropFirst(2) {
            #expect(try await read(version) == Self.bytes(of: version))
            if pool.recoveryHelperReads == helped { break }
            helped = pool.recoveryHelperReads
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await read(inFirst[2]) == Self.bytes(of: inFirst[2]))
        #expect(pool.recoveryHelperReads == helped)

        services.cancel()
        _ = await services.result
        await invoker.shutdown()
    }
}
