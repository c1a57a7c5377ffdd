import Foundation
import InfiniMetadata
import MetadataTestSupport
import Testing

@Suite struct CheckpointTests {
    /// A checkpoint written while another task keeps appending, more appends, reopen: the same
    /// state, from one checkpoint and one segment.
    @Test func appendsContinueWhileACheckpointIsWritten() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 21)
            let (log, _) = try openLog(directory, fsync: .always)
            for _ in 0..<3_000 { _ = try log.write(workload.nextRecord()) }
            let boundary = try log.beginCheckpoint()
            #expect(boundary.sequence == 2)
            let snapshot = workload.expected
            let later = (0..<2_000).map { _ in workload.nextRecord() }
            async let appended: Void = {
                for record in later { try await log.append(record) }
            }()
            try log.writeCheckpoint(snapshot, at: boundary)
            try await appended
            for _ in 0..<500 { _ = try log.write(workload.nextRecord()) }
            try log.close()
            #expect(try fileNames(directory) == [checkpointName(2), segmentName(2), "LOCK"])

            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries == workload.expected)
            #expect(recovery.state.highestVersion == workload.highestVersion)
            #expect(recovery.replayedRecords == 2_500)
            #expect(recovery.notes.isEmpty)
            try reopened.close()
        }
    }

    /// The snapshot may be taken after the boundary and contain records from after it: replaying
    /// them again changes nothing.
    @Test func aSnapshotFromAfterTheBoundaryGivesTheSameState() async throws {
        for seed in 30..<40 as Range<UInt64> {
            try await withTemporaryDirectory { directory in
                var workload = Workload(seed: seed, keyCount: 8)
                let (log, _) = try openLog(directory)
                for _ in 0..<300 { _ = try log.write(workload.nextRecord()) }
                let boundary = try log.beginCheckpoint()
                for _ in 0..<150 { _ = try log.write(workload.nextRecord()) }
                try log.writeCheckpoint(workload.expected, at: boundary)
                for _ in 0..<150 { _ = try log.write(workload.nextRecord()) }
                try log.close()
                let (reopened, recovery) = try openLog(directory)
                #expect(recovery.state.entries == workload.expected, "seed \(seed)")
                #expect(recovery.state.highestVersion == workload.highestVersion)
                try reopened.close()
            }
        }
    }

    @Test func checkpointsRepeatAndCarryTheHighestVersion() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 22)
            var (log, _) = try openLog(directory, fsync: .everySecond)
            for round in 0..<5 {
                for _ in 0..<400 { _ = try log.write(workload.nextRecord()) }
                try log.writeCheckpoint(workload.expected, at: try log.beginCheckpoint())
                if round == 2 {
                    try log.close()
                    (log, _) = try openLog(directory, fsync: .everySecond)
                }
            }
            _ = try log.write(.reserveVersions(through: workload.highestVersion + 77))
            try log.writeCheckpoint(workload.expected, at: try log.beginCheckpoint())
            try log.close()
            #expect(try fileNames(directory) == [checkpointName(7), segmentName(7), "LOCK"])
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries == workload.expected)
            #expect(recovery.state.highestVersion == workload.highestVersion + 77)
            #expect(recovery.replayedRecords == 0)
            try reopened.close()
        }
    }

    @Test func needsCheckpointFollowsTheThreshold() async throws {
        try await withTemporaryDirectory { directory in
            let record = MetadataRecord.commit(key: Array("k".utf8), entry: sampleMetadata(version: 9))
            let (log, _) = try openLog(directory, checkpointThreshold: 10 * frameLength(record))
            for _ in 0..<9 { _ = try log.write(record) }
            #expect(!log.needsCheckpoint)
            _ = try log.write(record)
            #expect(log.needsCheckpoint)
            let boundary = try log.beginCheckpoint()
            #expect(!log.needsCheckpoint, "not while one is in progress")
            let error = try #require(throws: MetadataLogError.self) { try log.beginCheckpoint() }
            #expect(error.code == .checkpointInProgress)
            for _ in 0..<3 { _ = try log.write(record) }
            try log.writeCheckpoint([(key: Array("k".utf8), value: sampleMetadata(version: 9))], at: boundary)
            #expect(!log.needsCheckpoint, "only the 3 records after the boundary count")
            for _ in 0..<7 { _ = try log.write(record) }
            #expect(log.needsCheckpoint)
            let stale = try #require(throws: MetadataLogError.self) { try log.writeCheckpoint([], at: boundary) }
            #expect(stale.code == .checkpointNotStarted)
            try log.close()
        }
    }

    /// Writes `records` records, checkpoint 2, `records` more, checkpoint 3, and `after` more,
    /// and returns checkpoint 2 and segment 2 as they were before checkpoint 3 deleted them.
    private func twoCheckpoints(
        _ directory: String,
        _ workload: inout Workload,
        records: Int,
        after: Int
    ) throws -> (checkpoint: [UInt8], segment: [UInt8]) {
        let (log, _) = try openLog(directory)
        for _ in 0..<records { _ = try log.write(workload.nextRecord()) }
        try log.writeCheckpoint(workload.expected, at: try log.beginCheckpoint())
        for _ in 0..<records { _ = try log.write(workload.nextRecord()) }
        let boundary = try log.beginCheckpoint()
        let older = (try fileBytes(directory, checkpointName(2)), try fileBytes(directory, segmentName(2)))
        try log.writeCheckpoint(workload.expected, at: boundary)
        for _ in 0..<after { _ = try log.write(workload.nextRecord()) }
        try log.close()
        return older
    }

    /// A crash between writing the temporary file and renaming it leaves `checkpoint-<n>.tmp`:
    /// recovery ignores it (and removes it); so it does with segments and checkpoints a crash
    /// kept from being deleted.
    @Test func leftoversOfAnInterruptedCheckpointAreIgnored() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 23)
            let (oldCheckpoint, oldSegment) = try twoCheckpoints(directory, &workload, records: 500, after: 100)

            let fullTemporary = try fileBytes(directory, checkpointName(3))
            try writeFile(directory, checkpointName(4) + ".tmp", Array(fullTemporary.prefix(fullTemporary.count / 2)))
            try writeFile(directory, checkpointName(2), oldCheckpoint)
            try writeFile(directory, segmentName(2), oldSegment)
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries == workload.expected)
            #expect(recovery.replayedRecords == 100)
            #expect(recovery.notes.count == 1)
            #expect(recovery.notes.first?.contains(checkpointName(4) + ".tmp") == true)
            try reopened.close()
            #expect(try fileNames(directory) == [checkpointName(3), segmentName(3), "LOCK"])
        }
    }

    /// A damaged newest checkpoint is passed over when the older one and every segment since
    /// are still there; otherwise recovery refuses rather than start without its keys.
    @Test func aDamagedCheckpointFallsBackOnlyWithoutLoss() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 24)
            let (oldCheckpoint, oldSegment) = try twoCheckpoints(directory, &workload, records: 400, after: 50)

            var newest = try fileBytes(directory, checkpointName(3))
            newest[newest.count / 2] ^= 0x10
            try writeFile(directory, checkpointName(3), newest)
            var error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
            #expect(error.code == .corruptLog)
            #expect(error.message.contains("\(segmentName(1)) is missing"), "\(error)")
            #expect(error.message.contains("every checkpoint is damaged"), "\(error)")

            try writeFile(directory, checkpointName(2), oldCheckpoint)
            error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
            #expect(error.message.contains("\(segmentName(2)) is missing after \(checkpointName(2))"), "\(error)")

            try writeFile(directory, segmentName(2), oldSegment)
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries == workload.expected)
            #expect(recovery.replayedRecords == 450)
            #expect(recovery.notes.count == 1)
            #expect(recovery.notes.first?.contains("passed over \(checkpointName(3))") == true)
            try reopened.close()
        }
    }

    /// Checkpoint files are checked whole: every truncation, and damage to any frame, makes
    /// recovery pass the checkpoint over.
    @Test func everyTruncationOfACheckpointIsDetected() async throws {
        try await withTemporaryDirectory { source in
            let (log, _) = try openLog(source)
            var entries = [[UInt8]: KeyMetadata]()
            for version in 1...5 as ClosedRange<UInt64> { entries[[UInt8(version)]] = sampleMetadata(version: version) }
            try log.writeCheckpoint(entries, at: try log.beginCheckpoint())
            try log.close()
            let checkpoint = try fileBytes(source, checkpointName(2))
            for length in 0..<checkpoint.count {
                try await withTemporaryDirectory { directory in
                    try writeFile(directory, checkpointName(2), Array(checkpoint.prefix(length)))
                    try writeFile(directory, segmentName(2), [])
                    let error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
                    #expect(error.code == .corruptLog, "length \(length)")
                }
            }
            try await withTemporaryDirectory { directory in
                try writeFile(directory, checkpointName(2), checkpoint)
                try writeFile(directory, segmentName(2), [])
                let (log, recovery) = try openLog(directory)
                #expect(recovery.state.entries == entries)
                try log.close()
            }
        }
    }
}
