import InfiniMetadata
import MetadataTestSupport
import Testing

@Suite struct MetadataLogTests {
    @Test func appendedRecordsComeBackAfterReopen() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 42)
            var (log, recovery) = try openLog(directory)
            #expect(recovery.state == MetadataState())
            for round in 0..<3 {
                for _ in 0..<2_000 { _ = try log.write(workload.nextRecord()) }
                try log.close()
                (log, recovery) = try openLog(directory)
                #expect(recovery.state.entries == workload.expected, "round \(round)")
                #expect(recovery.state.highestVersion == workload.highestVersion)
                #expect(recovery.replayedRecords == 2_000 * (round + 1))
                #expect(recovery.notes.isEmpty)
            }
            try log.close()
        }
    }

    @Test(arguments: [MetadataLog.FsyncPolicy.always, .everySecond, .never])
    func everyFsyncPolicyKeepsEveryRecord(policy: MetadataLog.FsyncPolicy) async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 3)
            let (log, _) = try openLog(directory, fsync: policy)
            for _ in 0..<300 { try await log.append(workload.nextRecord()) }
            let position = try log.write(workload.nextRecord())
            try await log.waitUntilDurable(position)
            try log.close()
            let (reopened, recovery) = try openLog(directory, fsync: policy)
            #expect(recovery.state.entries == workload.expected)
            #expect(recovery.replayedRecords == 301)
            try reopened.close()
        }
    }

    /// Fifty tasks append at once under `.always`; all finish, and every record is there.
    @Test func concurrentAppendersShareFsyncs() async throws {
        try await withTemporaryDirectory { directory in
            let (log, _) = try openLog(directory, fsync: .always)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for appender in 0..<50 {
                    group.addTask {
                        for index in 0..<20 {
                            let version = UInt64(appender * 20 + index + 1)
                            try await log.append(.commit(key: Array("a\(appender)-\(index)".utf8), entry: sampleMetadata(version: version)))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try log.close()
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries.count == 1_000)
            for appender in 0..<50 {
                for index in 0..<20 {
                    let version = UInt64(appender * 20 + index + 1)
                    #expect(recovery.state.entries[Array("a\(appender)-\(index)".utf8)] == sampleMetadata(version: version))
                }
            }
            #expect(recovery.state.highestVersion == 1_000)
            try reopened.close()
        }
    }

    /// Versions named by removed keys, flushed keys and reservations all count: a restarted
    /// proxy continues above every one of them.
    @Test func highestVersionSurvivesRemovalsAndReservations() async throws {
        try await withTemporaryDirectory { directory in
            let (log, _) = try openLog(directory)
            _ = try log.write(.commit(key: [1], entry: sampleMetadata(version: 10)))
            _ = try log.write(.remove(key: [1], version: 10))
            #expect(log.highestVersion == 10)
            try log.close()
            var (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries.isEmpty)
            #expect(recovery.state.highestVersion == 10)
            #expect(reopened.highestVersion == 10)
            _ = try reopened.write(.commit(key: [2], entry: sampleMetadata(version: 11)))
            _ = try reopened.write(.reserveVersions(through: 500))
            _ = try reopened.write(.removeAll)
            try reopened.close()
            (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries.isEmpty)
            #expect(recovery.state.highestVersion == 500)
            try reopened.close()
        }
    }

    @Test func aSecondOpenOfTheDirectoryIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let (log, _) = try openLog(directory)
            let error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
            #expect(error.code == .directoryInUse)
            try log.close()
            try openLog(directory).log.close()
        }
    }

    @Test func writesAfterCloseAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            let (log, _) = try openLog(directory, fsync: .always)
            try log.close()
            try log.close()
            let error = try #require(throws: MetadataLogError.self) { try log.write(.removeAll) }
            #expect(error.code == .closed)
            await #expect(throws: MetadataLogError.self) { try await log.append(.removeAll) }
        }
    }

    @Test func anOversizedKeyIsRefusedAndLeavesNothingBehind() async throws {
        try await withTemporaryDirectory { directory in
            let (log, _) = try openLog(directory)
            let key = [UInt8](repeating: 7, count: MetadataRecord.maximumKeyLength + 1)
            let error = try #require(throws: MetadataLogError.self) { try log.write(.remove(key: key, version: 1)) }
            #expect(error.code == .recordTooLarge)
            _ = try log.write(.remove(key: [1], version: 2))
            try log.close()
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.replayedRecords == 1)
            #expect(recovery.state.highestVersion == 2)
            try reopened.close()
        }
    }
}
