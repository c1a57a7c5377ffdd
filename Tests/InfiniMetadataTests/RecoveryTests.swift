import Foundation
import InfiniMetadata
import MetadataTestSupport
import Testing

@Suite struct RecoveryTests {
    /// Writes `count` workload records to a fresh log and returns the segment's bytes, each
    /// record's end offset, and the expected state after each prefix of records.
    private func writtenLog(
        _ directory: String,
        count: Int,
        seed: UInt64
    ) throws -> (bytes: [UInt8], ends: [Int], states: [[[UInt8]: KeyMetadata]]) {
        var workload = Workload(seed: seed)
        let (log, _) = try openLog(directory)
        var ends = [Int]()
        var states = [workload.expected]
        var offset = 0
        for _ in 0..<count {
            let record = workload.nextRecord()
            _ = try log.write(record)
            offset += frameLength(record)
            ends.append(offset)
            states.append(workload.expected)
        }
        try log.close()
        return (try fileBytes(directory, segmentName(1)), ends, states)
    }

    /// Cutting the log at every byte of its last two records, reopening yields exactly the
    /// whole records before the cut, and appends continue after it.
    @Test func aTornTailAtEveryOffsetIsCutOff() async throws {
        try await withTemporaryDirectory { source in
            let (bytes, ends, states) = try writtenLog(source, count: 60, seed: 11)
            #expect(ends.last == bytes.count)
            let extra = MetadataRecord.commit(key: Array("after".utf8), entry: sampleMetadata(version: 1 << 40))
            for cut in ends[ends.count - 3]...bytes.count {
                try await withTemporaryDirectory { directory in
                    try writeFile(directory, segmentName(1), Array(bytes[0..<cut]))
                    let whole = ends.filter { $0 <= cut }.count
                    var (log, recovery) = try openLog(directory)
                    #expect(recovery.state.entries == states[whole], "cut at \(cut)")
                    #expect(recovery.replayedRecords == whole)
                    #expect(recovery.notes.count == (ends.contains(cut) ? 0 : 1), "cut at \(cut)")
                    _ = try log.write(extra)
                    try log.close()
                    (log, recovery) = try openLog(directory)
                    var expected = states[whole]
                    expected[Array("after".utf8)] = sampleMetadata(version: 1 << 40)
                    #expect(recovery.state.entries == expected, "cut at \(cut)")
                    #expect(recovery.notes.isEmpty)
                    try log.close()
                }
            }
        }
    }

    /// What power loss can leave after the last whole record: zeros or garbage, not a record.
    @Test func garbageAfterTheLastRecordIsCutOff() async throws {
        try await withTemporaryDirectory { source in
            let (bytes, ends, states) = try writtenLog(source, count: 30, seed: 12)
            var generator = SeededGenerator(seed: 13)
            for trial in 0..<200 {
                let cut = ends[Int.random(in: 20..<30, using: &generator)]
                let length = Int.random(in: 1...300, using: &generator)
                let tail: [UInt8] =
                    trial % 2 == 0
                    ? Array(repeating: 0, count: length)
                    : (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try await withTemporaryDirectory { directory in
                    try writeFile(directory, segmentName(1), Array(bytes[0..<cut]) + tail)
                    let (log, recovery) = try openLog(directory)
                    #expect(recovery.state.entries == states[ends.firstIndex(of: cut)! + 1], "trial \(trial)")
                    #expect(try fileBytes(directory, segmentName(1)).count == cut)
                    try log.close()
                }
            }
        }
    }

    /// A damaged record (length, checksum or payload) followed by intact ones is not a torn
    /// write: recovery refuses to drop the records after it, and names the file and offset.
    @Test func damageBeforeTheTailOfTheLastSegmentIsAnError() async throws {
        try await withTemporaryDirectory { source in
            let (bytes, ends, _) = try writtenLog(source, count: 30, seed: 14)
            for record in [0, 10, 28] {
                let start = record == 0 ? 0 : ends[record - 1]
                for position in [start + 2, start + 5, start + 9, ends[record] - 1] {
                    try await withTemporaryDirectory { directory in
                        var damaged = bytes
                        damaged[position] ^= 0x40
                        try writeFile(directory, segmentName(1), damaged)
                        let error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
                        #expect(error.code == .corruptLog)
                        #expect(error.message.contains(segmentName(1)))
                        #expect(error.message.contains("offset \(start)"))
                        #expect(try fileBytes(directory, segmentName(1)) == damaged, "nothing is truncated")
                    }
                }
            }
        }
    }

    /// Two segments (a checkpoint begun and never written): damage anywhere in the older one,
    /// even its last bytes, is an error naming the file and offset.
    @Test func damageInAnOlderSegmentIsAnError() async throws {
        try await withTemporaryDirectory { directory in
            var workload = Workload(seed: 15)
            var (log, _) = try openLog(directory)
            var ends = [Int]()
            for _ in 0..<20 {
                let record = workload.nextRecord()
                _ = try log.write(record)
                ends.append((ends.last ?? 0) + frameLength(record))
            }
            _ = try log.beginCheckpoint()
            for _ in 0..<5 { _ = try log.write(workload.nextRecord()) }
            try log.close()
            let (reopened, recovery) = try openLog(directory)
            #expect(recovery.state.entries == workload.expected)
            try reopened.close()

            let older = try fileBytes(directory, segmentName(1))
            var damaged = older
            damaged[ends[9] + 12] ^= 1
            try writeFile(directory, segmentName(1), damaged)
            var error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
            #expect(error.code == .corruptLog)
            #expect(error.message.contains("\(segmentName(1)) at offset \(ends[9])"), "\(error)")

            try writeFile(directory, segmentName(1), Array(older.dropLast(3)))
            error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
            #expect(error.message.contains("\(segmentName(1)) at offset \(ends[18])"), "\(error)")

            try writeFile(directory, segmentName(1), older)
            (log, _) = try openLog(directory)
            try log.close()
        }
    }

    /// Three segments and no checkpoint (each checkpoint begun, never written); without any
    /// one of them, recovery refuses to start rather than skip its records.
    @Test func aMissingSegmentIsAnError() async throws {
        try await withTemporaryDirectory { directory in
            for version in 1...3 as ClosedRange<UInt64> {
                let (log, _) = try openLog(directory)
                _ = try log.write(.commit(key: [UInt8(version)], entry: sampleMetadata(version: version)))
                if version < 3 { _ = try log.beginCheckpoint() }
                try log.close()
            }
            #expect(try fileNames(directory).isSuperset(of: [segmentName(1), segmentName(2), segmentName(3)]))
            let (log, recovery) = try openLog(directory)
            #expect(recovery.state.entries.count == 3)
            try log.close()

            for missing in 1...3 as ClosedRange<UInt64> {
                let saved = try fileBytes(directory, segmentName(missing))
                try FileManager.default.removeItem(atPath: directory + "/" + segmentName(missing))
                if missing == 3 {
                    // Without the newest segment the log just ends earlier: nothing marks it.
                    let (log, recovery) = try openLog(directory)
                    #expect(recovery.state.entries.count == 2)
                    try log.close()
                } else {
                    let error = try #require(throws: MetadataLogError.self) { try openLog(directory) }
                    #expect(error.code == .corruptLog)
                    #expect(error.message.contains("\(segmentName(missing)) is missing"), "\(error)")
                }
                try writeFile(directory, segmentName(missing), saved)
            }
        }
    }
}
