import COSTestSupport
import Glibc
import InfiniCOS
import NIOCore
import Synchronization
import Testing

@testable import InfiniNode

/// Writing chunks through to the COS, and holding writes back so overwritten chunks cost none.
@Suite(.timeLimit(.minutes(1))) struct ChunkPersisterTests {
    private static func object(_ chunk: String) throws -> ObjectName { try ChunkPersister.objectName(forChunk: chunk) }

    /// Outcomes reported so far, by chunk.
    private final class Outcomes: Sendable {
        private let reported = Mutex<[ObjectName: ChunkPersister.Outcome]>([:])
        var all: [ObjectName: ChunkPersister.Outcome] { reported.withLock { $0 } }
        func record(_ name: ObjectName) -> @Sendable (ChunkPersister.Outcome) -> Void {
            { outcome in self.reported.withLock { $0[name] = outcome } }
        }
    }

    @Test func withoutWriteBehindEveryChunkIsWrittenAndReported() async throws {
        let storage = MemoryObjectStorage()
        let persister = ChunkPersister(storage: storage)
        let outcomes = Outcomes()
        let names = try (1...50).map { try Self.object("\($0)/0/0") }
        for name in names { persister.persist(name, bytes: ByteBuffer(string: name.description), completion: outcomes.record(name)) }
        await persister.waitUntilIdle()
        #expect(storage.names == names.sorted())
        #expect(outcomes.all.count == 50)
        #expect(outcomes.all.values.allSatisfy { $0 == .persisted })
    }

    /// A node that stops records each write's outcome (in its lineage) from the completion, so
    /// waiting for idle must wait for every completion, not only every write.
    @Test func idleMeansEveryCompletionHasRun() async throws {
        for round in 0..<20 {
            let persister = ChunkPersister(storage: MemoryObjectStorage(), concurrency: 8)
            let completed = Atomic(0)
            for index in 0..<16 {
                persister.persist(try Self.object("\(index)/0/\(round)"), bytes: ByteBuffer(string: "chunk")) { _ in
                    // A completion that takes a while, as a lineage record under load can.
                    usleep(UInt32(1000 * (index % 4)))
                    completed.add(1, ordering: .relaxed)
                }
            }
            await persister.waitUntilIdle()
            #expect(completed.load(ordering: .relaxed) == 16, "round \(round)")
        }
    }

    @Test func aChunkDroppedWithinTheWriteBehindIsNeverWritten() async throws {
        let storage = MemoryObjectStorage()
        let persister = ChunkPersister(storage: storage)
        persister.writeBehind = .seconds(30)
        let outcomes = Outcomes()
        let (dropped, kept) = (try Self.object("1/0/0"), try Self.object("2/0/0"))
        persister.persist(dropped, bytes: ByteBuffer(string: "old"), completion: outcomes.record(dropped))
        persister.persist(kept, bytes: ByteBuffer(string: "new"), completion: outcomes.record(kept))
        try await Task.sleep(for: .milliseconds(50))
        #expect(storage.names.isEmpty)
        #expect(persister.backlog == 2)

        #expect(persister.cancel([dropped, try Self.object("3/0/0")]) == [dropped])
        #expect(persister.backlog == 1)
        // A node about to return writes what it held back at once.
        await persister.waitUntilIdle()
        #expect(storage.names == [kept])
        #expect(outcomes.all == [kept: .persisted])
    }

    @Test func heldBackWritesStartOnceDue() async throws {
        let storage = MemoryObjectStorage()
        let persister = ChunkPersister(storage: storage)
        persister.writeBehind = .milliseconds(200)
        let names = try (1...40).map { try Self.object("\($0)/0/1") }
        let start = ContinuousClock.now
        for name in names { persister.persist(name, bytes: ByteBuffer(string: "chunk"), completion: { _ in }) }
        #expect(storage.names.isEmpty)
        while persister.backlog > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        #expect(storage.names == names.sorted())
    }

    @Test func expeditedWritesDoNotWaitForTheirDueTime() async throws {
        let storage = MemoryObjectStorage()
        let persister = ChunkPersister(storage: storage)
        persister.writeBehind = .seconds(30)
        let names = try (1...40).map { try Self.object("\($0)/1/0") }
        for name in names { persister.persist(name, bytes: ByteBuffer(string: "chunk"), completion: { _ in }) }
        persister.expedite()
        while persister.backlog > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(storage.names == names.sorted())
    }
}
