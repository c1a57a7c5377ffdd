import Foundation
import InfiniMetadata
import MetadataTestSupport
import ProcessSpawning
import Testing

/// A real crash: `metadata-log-writer` appends (and checkpoints) until it is killed with
/// SIGKILL; every version it reported as appended must come back, under every fsync policy,
/// and the next writer must continue above them.
@Suite struct CrashTests {
    static let writer = URL(fileURLWithPath: CommandLine.arguments[0])
        .deletingLastPathComponent().appendingPathComponent("metadata-log-writer")
    static let keyCount: UInt64 = 50

    @Test func everyReportedAppendSurvivesSIGKILL() async throws {
        try await withTemporaryDirectory { directory in
            var reported = [UInt64]()
            let rounds = [("never", false), ("everySecond", false), ("always", false), ("never", true), ("always", true)]
            for (round, (policy, stops)) in rounds.enumerated() {
                let count = 1_500 + 300 * round
                let versions = try Self.runAndKill(directory, policy: policy, reportedAtLeast: count, stopping: stops)
                #expect(!stops || versions.count == count, "round \(round)")
                try #require(!versions.isEmpty, "round \(round): the writer reported nothing")
                #expect(versions.first! > reported.last ?? 0, "round \(round): versions continue above the last run's")
                #expect(versions == Array(versions.first!...versions.last!), "round \(round): one version per record")
                reported += versions
                try Self.verify(directory, reported: reported, round: round)
            }
            // The writers checkpointed as they went, so kills also landed around checkpoints.
            #expect(try fileNames(directory).contains { $0.hasPrefix("checkpoint-") })
        }
    }

    /// Starts the writer, waits until it has reported `count` appends (or 10 s passed), kills
    /// it, and returns every version it reported on a whole line. A writer that `stops` waits
    /// after `count` appends, so the kill comes right after its last report.
    private static func runAndKill(
        _ directory: String,
        policy: String,
        reportedAtLeast count: Int,
        stopping stops: Bool
    ) throws -> [UInt64] {
        let process = try ChildProcess(
            executable: writer.path,
            arguments: [directory, policy, String(64 << 10), String(keyCount)] + (stops ? [String(count)] : []),
            standardOutput: .pipe
        )
        var bytes = [UInt8]()
        let deadline = ContinuousClock.now + .seconds(10)
        reading: while bytes.lazy.filter({ $0 == 0x0A }).count < count, ContinuousClock.now < deadline {
            switch process.standardOutput!.read(timeout: .milliseconds(100)) {
            case .bytes(let chunk): bytes += chunk
            case .endOfFile: break reading
            case .timedOut: continue
            }
        }
        process.send(SIGKILL)
        let termination = process.waitUntilTerminated(timeout: .seconds(30))
        while case .bytes(let chunk) = process.standardOutput!.read(timeout: .milliseconds(100)) { bytes += chunk }
        #expect(termination == .signalled(SIGKILL), "the writer stopped on its own: \(String(decoding: bytes, as: UTF8.self).suffix(300))")
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast()
        return lines.compactMap { UInt64(String(decoding: $0, as: UTF8.self)) }
    }

    /// Each key holds at least the newest version reported for it, at most the one the writer
    /// may have appended but not reported yet, and exactly that version's metadata.
    private static func verify(_ directory: String, reported: [UInt64], round: Int) throws {
        let (log, recovery) = try MetadataLog.open(directory: directory, configuration: .init(fsync: .never))
        defer { try? log.close() }
        let last = reported.last!
        var newest = [UInt64: UInt64]()
        for version in reported { newest[version % keyCount] = version }
        for (slot, version) in newest {
            let entry = try #require(recovery.state.entries[sampleKey(version: version, keyCount: keyCount)], "round \(round): key of version \(version) lost")
            #expect(entry.version >= version && entry.version <= last + 1, "round \(round): \(entry.version) for \(version)")
            #expect(entry.version % keyCount == slot)
            #expect(entry == sampleMetadata(version: entry.version))
        }
        #expect(recovery.state.highestVersion >= last && recovery.state.highestVersion <= last + 1)
    }
}
