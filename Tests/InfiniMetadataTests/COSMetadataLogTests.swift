import COSTestSupport
import InfiniCOS
import InfiniMetadata
import MetadataTestSupport
import NIOCore
import Testing

@Suite struct COSMetadataLogTests {
    private func batchName(_ sequence: UInt64) -> String { "metadata/log/" + padded(sequence) }
    private func checkpointObjectName(_ sequence: UInt64) -> String { "metadata/checkpoints/" + padded(sequence) }

    private func names(_ storage: MemoryObjectStorage) -> [String] { storage.names.map(\.rawValue) }

    private func open(
        _ storage: MemoryObjectStorage,
        checkpointBatches: Int = 1024,
        flushInterval: Duration = .seconds(60)
    ) async throws -> (log: COSMetadataLog, recovery: MetadataRecovery) {
        try await COSMetadataLog.open(
            storage: storage,
            configuration: .init(checkpointBatches: checkpointBatches, flushInterval: flushInterval)
        )
    }

    /// Records written and waited on in many tasks at once, then the log shut down and opened
    /// again: the same state, replayed from the batches.
    @Test func acknowledgedRecordsComeBackWhenTheLogIsOpenedAgain() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 41)
        let records = (0..<2_000).map { _ in workload.nextRecord() }
        let (log, recovery) = try await open(storage)
        #expect(recovery.state.entries.isEmpty && recovery.replayedRecords == 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slice in stride(from: 0, to: records.count, by: 100) {
                let positions = try records[slice..<(slice + 100)].map { try log.write($0) }
                group.addTask { for position in positions { try await log.waitUntilDurable(position) } }
            }
            try await group.waitForAll()
        }
        try await log.shutDown()

        let (reopened, again) = try await open(storage)
        #expect(again.state.entries == workload.expected)
        #expect(again.state.highestVersion == workload.highestVersion)
        #expect(again.replayedRecords == 2_000)
        #expect(reopened.highestVersion == workload.highestVersion)
        try await reopened.shutDown()
    }

    /// Group commit: records written before anyone waits go out in one object, and the next
    /// write after reopening goes into the batch after the last.
    @Test func recordsWrittenBeforeAWaitShareOneBatch() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 42)
        let (log, _) = try await open(storage)
        var last = try log.write(workload.nextRecord())
        for _ in 0..<99 { last = try log.write(workload.nextRecord()) }
        try await log.waitUntilDurable(last)
        #expect(names(storage) == [batchName(1)])
        try await log.shutDown()

        let (reopened, _) = try await open(storage)
        try await reopened.waitUntilDurable(try reopened.write(workload.nextRecord()))
        #expect(names(storage) == [batchName(1), batchName(2)])
        try await reopened.shutDown()
    }

    /// A record nobody waits on is stored by the next flush, and shutting down stores the rest.
    @Test func recordsNobodyWaitsOnAreStoredAnyway() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 43)
        let (log, _) = try await open(storage, flushInterval: .milliseconds(20))
        _ = try log.write(workload.nextRecord())
        var waited = 0
        while names(storage).isEmpty, waited < 200 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(names(storage) == [batchName(1)])

        let (slow, _) = try await open(storage, flushInterval: .seconds(60))
        _ = try slow.write(workload.nextRecord())
        try await slow.shutDown()
        let (reopened, recovery) = try await open(storage)
        #expect(recovery.state.entries == workload.expected)
        try await reopened.shutDown()
        try await log.shutDown()
    }

    /// A checkpoint replaces the batches before its boundary and the checkpoint before it, while
    /// writes go on; the state read back is the same.
    @Test func aCheckpointReplacesTheBatchesBeforeIt() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 44)
        let (log, _) = try await open(storage, checkpointBatches: 3)
        for _ in 0..<3 {
            for _ in 0..<50 { _ = try log.write(workload.nextRecord()) }
            try await log.waitUntilDurable(try log.write(workload.nextRecord()))
        }
        #expect(log.needsCheckpoint)
        for round in 0..<2 {
            let boundary = try log.beginCheckpoint()
            #expect(!log.needsCheckpoint)
            #expect(throws: MetadataLogError.self) { try log.beginCheckpoint() }
            let snapshot = workload.expected
            for _ in 0..<30 { _ = try log.write(workload.nextRecord()) }
            try await log.checkpoint(snapshot.map { (key: $0.key, value: $0.value) }, at: boundary)
            try await log.waitUntilDurable(try log.write(workload.nextRecord()))
            let expected = [checkpointObjectName(boundary.sequence), batchName(boundary.sequence)]
            #expect(names(storage) == expected, "round \(round)")
        }
        try await log.shutDown()

        let (reopened, recovery) = try await open(storage)
        #expect(recovery.state.entries == workload.expected)
        #expect(recovery.state.highestVersion == workload.highestVersion)
        #expect(recovery.replayedRecords == 31)
        try await reopened.shutDown()
    }

    /// A put the COS refuses, or one that stores the batch but whose answer is lost, fails the
    /// waits on it at once, and the batch is tried again: once the COS takes writes again, the
    /// records and later ones are all stored. After a lost answer the next try finds the batch
    /// holding the same bytes, so it is not taken for another writer's.
    @Test(arguments: ["refused", "answer lost"])
    func aFailedPutFailsItsWaitersAndIsRetried(_ failing: String) async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 45)
        let (log, _) = try await open(storage)
        if failing == "refused" { storage.refuseWrites(true) } else { storage.loseNextAnswer() }
        let position = try log.write(workload.nextRecord())
        let failure = await #expect(throws: MetadataLogError.self) { try await log.waitUntilDurable(position) }
        #expect(failure?.code == .ioFailure)
        #expect(failure?.message.contains("storing \(batchName(1)) failed") == true)

        storage.refuseWrites(false)
        try await log.waitUntilDurable(try log.write(workload.nextRecord()))
        try await log.shutDown()
        let (reopened, recovery) = try await open(storage)
        #expect(recovery.state.entries == workload.expected)
        #expect(recovery.replayedRecords == 2)
        try await reopened.shutDown()
    }

    /// A proxy on another machine opens the log while the first one still runs: the first to
    /// store the next batch keeps the log, and the other stops taking records, so their
    /// batches never interleave.
    @Test func aLogTakenOverByAnotherStopsAtItsNextBatch() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 49)
        let (first, _) = try await open(storage)
        try await first.waitUntilDurable(try first.write(workload.nextRecord()))
        let (second, recovery) = try await open(storage)
        #expect(recovery.replayedRecords == 1)
        try await second.waitUntilDurable(try second.write(workload.nextRecord()))

        let position = try first.write(workload.nextRecord())
        let failure = await #expect(throws: MetadataLogError.self) { try await first.waitUntilDurable(position) }
        #expect(failure?.code == .takenOver)
        #expect(failure?.message.contains("another proxy took the metadata log over: it stored \(batchName(2)) first") == true)
        let refused = #expect(throws: MetadataLogError.self) { try first.write(workload.nextRecord()) }
        #expect(refused?.code == .closed)
        await #expect(throws: MetadataLogError.self) { try await first.shutDown() }

        try await second.waitUntilDurable(try second.write(workload.nextRecord()))
        try await second.shutDown()
        #expect(names(storage) == [batchName(1), batchName(2), batchName(3)])
        let (reopened, again) = try await open(storage)
        #expect(again.replayedRecords == 3, "the first log's records after the takeover must not be in the log")
        try await reopened.shutDown()
    }

    /// Shutting down while the COS refuses writes gives up, with the refusal, instead of hanging.
    @Test func shuttingDownDuringAnOutageGivesUp() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 48)
        let (log, _) = try await open(storage)
        storage.refuseWrites(true)
        _ = try log.write(workload.nextRecord())
        let failure = await #expect(throws: MetadataLogError.self) { try await log.shutDown() }
        #expect(failure?.code == .ioFailure)
        let refused = #expect(throws: MetadataLogError.self) { try log.write(workload.nextRecord()) }
        #expect(refused?.code == .closed)
    }

    /// Objects are stored whole, so a batch that is missing or damaged is not a torn write:
    /// opening fails and names it, rather than dropping acknowledged records.
    @Test func aMissingOrDamagedBatchFailsRecoveryByName() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 46)
        let (log, _) = try await open(storage)
        for _ in 0..<4 { try await log.waitUntilDurable(try log.write(workload.nextRecord())) }
        try await log.shutDown()
        let second = try ObjectName(batchName(2))
        let original = try #require(try await storage.get(second))

        var damaged = original
        damaged.setInteger(damaged.getInteger(at: 10, as: UInt8.self)! ^ 0xFF, at: 10)
        storage.replace(second, with: damaged)
        let corrupt = await #expect(throws: MetadataLogError.self) { _ = try await open(storage) }
        #expect(corrupt?.code == .corruptLog)
        #expect(corrupt?.message.contains(batchName(2)) == true)

        try await storage.delete(second)
        let missing = await #expect(throws: MetadataLogError.self) { _ = try await open(storage) }
        #expect(missing?.message == "metadata log metadata: \(batchName(2)) is missing")

        storage.replace(second, with: original)
        try await storage.delete(try ObjectName(batchName(1)))
        let uncovered = await #expect(throws: MetadataLogError.self) { _ = try await open(storage) }
        #expect(uncovered?.message == "metadata log metadata: \(batchName(1)) is missing and no checkpoint covers it")
    }

    /// Batches left below the checkpoint (a put that landed after the checkpoint deleted its
    /// neighbours) are ignored and deleted on open.
    @Test func batchesBelowTheCheckpointAreDeletedOnOpen() async throws {
        let storage = MemoryObjectStorage()
        var workload = Workload(seed: 47)
        let (log, _) = try await open(storage)
        try await log.waitUntilDurable(try log.write(workload.nextRecord()))
        let stale = try #require(try await storage.get(try ObjectName(batchName(1))))
        let boundary = try log.beginCheckpoint()
        try await log.checkpoint(workload.expected.map { (key: $0.key, value: $0.value) }, at: boundary)
        try await log.shutDown()
        storage.replace(try ObjectName(batchName(1)), with: stale)

        let (reopened, recovery) = try await open(storage)
        #expect(recovery.state.entries == workload.expected)
        #expect(recovery.notes == ["deleted 1 object an earlier checkpoint replaced"])
        #expect(names(storage) == [checkpointObjectName(2)])
        try await reopened.shutDown()
    }
}
