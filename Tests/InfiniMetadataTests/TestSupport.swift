import Foundation
import InfiniMetadata
import MetadataTestSupport

/// Runs `body` with the path of a fresh directory that does not exist yet (the log creates it),
/// and deletes it afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("metadata-log-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

func segmentName(_ sequence: UInt64) -> String { "log-" + padded(sequence) }
func checkpointName(_ sequence: UInt64) -> String { "checkpoint-" + padded(sequence) }

func padded(_ sequence: UInt64) -> String {
    let digits = String(sequence)
    return String(repeating: "0", count: 20 - digits.count) + digits
}

func fileBytes(_ directory: String, _ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
}

func writeFile(_ directory: String, _ name: String, _ bytes: [UInt8]) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
}

func fileNames(_ directory: String) throws -> Set<String> {
    Set(try FileManager.default.contentsOfDirectory(atPath: directory))
}

/// Opens `directory` with `.never` (no sync thread, nothing to wait for) unless told otherwise.
func openLog(
    _ directory: String,
    fsync: MetadataLog.FsyncPolicy = .never,
    checkpointThreshold: Int = 64 << 20
) throws -> (log: MetadataLog, recovery: MetadataRecovery) {
    try MetadataLog.open(
        directory: directory,
        configuration: .init(fsync: fsync, checkpointThreshold: checkpointThreshold)
    )
}

/// The bytes one record takes in a segment: an 8-byte frame header and the record.
func frameLength(_ record: MetadataRecord) -> Int { 8 + record.encoded().count }

/// SplitMix64: a small seeded generator, so a failing case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random records over a few keys, with the state they should produce worked out here by hand
/// rather than by ``MetadataState``: commits, removals and expiry changes of the current version
/// and of stale ones (which must change nothing), removals of absent keys, FLUSHALL and
/// version reservations.
struct Workload {
    private(set) var expected: [[UInt8]: KeyMetadata] = [:]
    /// The highest version issued so far.
    private(set) var highestVersion: UInt64 = 0
    private var generator: SeededGenerator
    private let keyCount: Int

    init(seed: UInt64, keyCount: Int = 40) {
        generator = SeededGenerator(seed: seed)
        self.keyCount = keyCount
    }

    mutating func nextRecord() -> MetadataRecord {
        let key = Array("key-\(Int.random(in: 0..<keyCount, using: &generator))".utf8)
        let current = expected[key]?.version
        let stale = highestVersion == 0 ? 0 : UInt64.random(in: 0..<highestVersion, using: &generator)
        switch Int.random(in: 0..<100, using: &generator) {
        case 0..<50:
            highestVersion += 1
            var entry = sampleMetadata(version: highestVersion)
            if Bool.random(using: &generator) { entry.expiresAt = Int64.random(in: 0...Int64.max, using: &generator) }
            expected[key] = entry
            return .commit(key: key, entry: entry)
        case 50..<62:
            if let current, Bool.random(using: &generator) {
                expected[key] = nil
                return .remove(key: key, version: current)
            }
            return .remove(key: key, version: stale == current ? stale + 1 : stale)
        case 62..<80:
            let deadline: Int64? = Bool.random(using: &generator) ? nil : Int64.random(in: .min ... .max, using: &generator)
            if let current, Bool.random(using: &generator) {
                expected[key]?.expiresAt = deadline
                return .expiry(key: key, version: current, expiresAt: deadline)
            }
            return .expiry(key: key, version: stale == current ? stale + 1 : stale, expiresAt: deadline)
        case 80..<82:
            expected.removeAll()
            return .removeAll
        case 82..<85:
            highestVersion += UInt64.random(in: 1...1000, using: &generator)
            return .reserveVersions(through: highestVersion)
        default:
            return .remove(key: Array("absent-\(highestVersion)".utf8), version: highestVersion)
        }
    }
}
