import NIOCore
import Testing

@testable import InfiniProxy

/// The proxy keeps unpersisted chunks' bytes within a bound: writers wait for room, in order,
/// and fail after their timeout rather than grow the proxy.
@Suite(.timeLimit(.minutes(1))) struct PersistenceTrackerTests {
    private static func chunks(_ version: UInt64, bytes: Int) -> [(ChunkID, node: Int, bytes: ByteBuffer)] {
        [(ChunkID(version: version, stripe: 0, shard: 0), node: 0, bytes: ByteBuffer(repeating: 1, count: bytes))]
    }

    @Test func aWriteWaitsForRoomAndGoesOnOnceChunksArePersisted() async throws {
        let tracker = PersistenceTracker(capacity: 100)
        try await tracker.track(Self.chunks(1, bytes: 60), timeout: .seconds(30))
        let second = Task { try await tracker.track(Self.chunks(2, bytes: 60), timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(tracker.unpersistedBytes == 60, "the second write went past the bound")
        tracker.persisted(ChunkID(version: 1, stripe: 0, shard: 0))
        try await second.value
        #expect(tracker.unpersistedBytes == 60)
        #expect(tracker.isPending(ChunkID(version: 2, stripe: 0, shard: 0)))
    }

    @Test func aWriteThatWaitsTooLongFailsWithTheBacklog() async throws {
        let tracker = PersistenceTracker(capacity: 100)
        try await tracker.track(Self.chunks(1, bytes: 80), timeout: .seconds(30))
        let error = await #expect(throws: PersistenceTracker.Backlogged.self) {
            try await tracker.track(Self.chunks(2, bytes: 80), timeout: .milliseconds(100))
        }
        #expect(error?.description == "the COS is behind: 80 bytes of chunks are waiting to be persisted")
        // The failed write left nothing behind: freeing the first makes room for a third.
        tracker.forget([ChunkID(version: 1, stripe: 0, shard: 0)])
        try await tracker.track(Self.chunks(3, bytes: 80), timeout: .seconds(30))
        #expect(tracker.unpersistedBytes == 80)
    }

    @Test func aValueLargerThanTheBoundStillGoesThroughAlone() async throws {
        let tracker = PersistenceTracker(capacity: 10)
        try await tracker.track(Self.chunks(1, bytes: 50), timeout: .seconds(30))
        #expect(tracker.unpersistedBytes == 50)
    }

    @Test func waitingWritesAreAdmittedInOrder() async throws {
        let tracker = PersistenceTracker(capacity: 100)
        try await tracker.track(Self.chunks(1, bytes: 100), timeout: .seconds(30))
        let large = Task { try await tracker.track(Self.chunks(2, bytes: 90), timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        let small = Task { try await tracker.track(Self.chunks(3, bytes: 10), timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!tracker.isPending(ChunkID(version: 3, stripe: 0, shard: 0)), "a later small write overtook a waiting one")
        tracker.persisted(ChunkID(version: 1, stripe: 0, shard: 0))
        try await large.value
        try await small.value
        #expect(tracker.unpersistedBytes == 100)
    }

    @Test func aWriteGivingUpLetsTheOnesBehindItIn() async throws {
        let tracker = PersistenceTracker(capacity: 100)
        try await tracker.track(Self.chunks(1, bytes: 80), timeout: .seconds(30))
        let large = Task { try await tracker.track(Self.chunks(2, bytes: 90), timeout: .milliseconds(200)) }
        try await Task.sleep(for: .milliseconds(50))
        let small = Task { try await tracker.track(Self.chunks(3, bytes: 10), timeout: .seconds(30)) }
        await #expect(throws: PersistenceTracker.Backlogged.self) { try await large.value }
        // Admitted as the large write left, long before its own timeout.
        try await small.value
        #expect(tracker.unpersistedBytes == 90)
    }
}
