import BenchmarkSupport
import Foundation
import InfiniCOS
import InfiniCoding
import InfiniMetadata

/// The metadata log's costs on the local disk: append throughput for 200-byte records per fsync
/// policy, from one task and from 50 concurrent tasks; then, for `--keys` distinct keys, the
/// time to replay their log, to write a checkpoint of them, and to load it back. Then the same
/// appends to the log in the COS (`--metadata cos`): a directory with `--latency-ms` added to
/// every request to model S3's round trip.
///
/// Usage: `metadata-log-bench [--seconds N] [--keys N] [--latency-ms N] [--directory PATH]`
@main
struct MetadataLogBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let seconds = option("--seconds", in: arguments).flatMap(Double.init) ?? 2
        let keys = option("--keys", in: arguments).flatMap(Int.init) ?? 500_000
        let parent = option("--directory", in: arguments) ?? FileManager.default.temporaryDirectory.path
        let record = sampleRecord(key: 0)
        print("records of \(record.encoded().count) bytes (\(record.encoded().count + 8) framed), in \(parent)")
        print("policy       appenders   appends/s      MB/s")
        for policy in [MetadataLog.FsyncPolicy.never, .everySecond, .always] {
            for appenders in [1, 50] {
                let count = try await inDirectory(parent) { directory in
                    let (log, _) = try MetadataLog.open(directory: directory, configuration: .init(fsync: policy))
                    defer { try? log.close() }
                    return try await run(log, record: record, appenders: appenders, seconds: seconds)
                }
                let rate = Double(count) / seconds
                let name = "\(policy)".padding(toLength: 12, withPad: " ", startingAt: 0)
                print(name, pad(appenders, 9), pad(format(rate), 11), pad(format(rate * 208 / 1e6, digits: 1), 9))
            }
        }
        try await inDirectory(parent) { directory in try recovery(directory, keys: keys) }

        let latency = Duration.milliseconds(option("--latency-ms", in: arguments).flatMap(Int.init) ?? 20)
        print("in the COS, \(format(milliseconds(latency))) ms per request:")
        print("appenders   appends/s   batches/s   records/batch   ms per append")
        for appenders in [1, 50, 500] {
            try await inDirectory(parent) { directory in
                let storage = CountingStorage(try await FileObjectStorage.create(root: directory), latency: latency)
                let (log, _) = try await COSMetadataLog.open(storage: storage)
                let before = storage.counts
                let count = try await run(log, record: record, appenders: appenders, seconds: seconds)
                let batches = storage.counts.since(before).requests
                try await log.shutDown()
                print(
                    pad(appenders, 9),
                    pad(format(Double(count) / seconds), 11),
                    pad(format(Double(batches) / seconds), 11),
                    pad(format(Double(count) / Double(max(batches, 1)), digits: 1), 15),
                    pad(format(seconds * 1_000 * Double(appenders) / Double(max(count, 1)), digits: 1), 15)
                )
            }
        }
    }

    /// Appends from `appenders` tasks until `seconds` have passed; returns how many records.
    static func run(_ log: any DurableMetadataLog, record: MetadataRecord, appenders: Int, seconds: Double) async throws -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<appenders {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        try await log.waitUntilDurable(try log.write(record))
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// Times replaying `keys` commits, checkpointing them, and loading the checkpoint.
    static func recovery(_ directory: String, keys: Int) throws {
        let configuration = MetadataLog.Configuration(fsync: .never)
        var (log, _) = try MetadataLog.open(directory: directory, configuration: configuration)
        for key in 0..<keys { _ = try log.write(sampleRecord(key: key)) }
        try log.close()
        var start = ContinuousClock.now
        var recovered: MetadataRecovery
        (log, recovered) = try MetadataLog.open(directory: directory, configuration: configuration)
        print("replay \(recovered.replayedRecords) records: \(elapsed(since: start)) s")
        start = ContinuousClock.now
        try log.writeCheckpoint(recovered.state.entries, at: try log.beginCheckpoint())
        print("write a checkpoint of \(recovered.state.entries.count) keys: \(elapsed(since: start)) s")
        try log.close()
        start = ContinuousClock.now
        (log, recovered) = try MetadataLog.open(directory: directory, configuration: configuration)
        print("load it: \(elapsed(since: start)) s, \(recovered.state.entries.count) keys")
        try log.close()
    }

    /// Runs `body` in a fresh directory under `parent`, removed afterwards.
    nonisolated(nonsending) static func inDirectory<T>(
        _ parent: String,
        _ body: (String) async throws -> T
    ) async throws -> T {
        let directory = parent + "/metadata-log-bench-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    /// A 200-byte commit of a 10+4 object with a TTL, under a key made from `key`.
    static func sampleRecord(key: Int) -> MetadataRecord {
        let geometry = try! ErasureGeometry(dataShards: 10, parityShards: 4)
        let descriptor = ObjectDescriptor(
            keyHash: UInt64(key),
            version: UInt64(key + 1),
            length: 1 << 20,
            geometry: geometry,
            stripeLength: 1 << 20
        )
        let entry = KeyMetadata(descriptor: descriptor, placement: Array(0..<14), expiresAt: 1_700_000_000_000)
        let fixed = MetadataRecord.commit(key: [], entry: entry).encoded().count
        let name = Array("key:\(key):".utf8)
        return .commit(key: name + Array(repeating: UInt8(ascii: "k"), count: 200 - fixed - name.count), entry: entry)
    }

    static func elapsed(since start: ContinuousClock.Instant) -> String {
        format(BenchmarkSupport.seconds(ContinuousClock.now - start), digits: 2)
    }
}
