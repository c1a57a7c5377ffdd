import Foundation
import InfiniCOS
import InfiniNode
import NIOCore
import Synchronization

/// Chooses how often a node snapshots its lineage. For each snapshot interval N, on a node that
/// holds `--chunks` chunks (written as one term), it writes `--terms` + N − 2 terms that each add
/// 50 chunks and remove the 50 oldest, so the run ends with the most terms a recovery ever
/// replays (N − 1); then it reads the lineage back as a recovering node does. The COS is a
/// directory, with `--latency-ms` added to every request to model S3's round trip.
///
/// Usage: `lineage-bench [--terms N] [--chunks N] [--latency-ms N] [--directory PATH]`
@main
struct LineageBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let terms = option("--terms", in: arguments).flatMap(Int.init) ?? 128
        let chunks = option("--chunks", in: arguments).flatMap(Int.init) ?? 10_000
        let latency = Duration.milliseconds(option("--latency-ms", in: arguments).flatMap(Int.init) ?? 20)
        let parent = option("--directory", in: arguments) ?? FileManager.default.temporaryDirectory.path
        print("\(terms) terms of 100 operations, \(chunks) chunks held, \(latency) per COS request, in \(parent)")
        print("    N   requests/term   KB written/term   close ms/term   recovery: objects read      ms")
        for interval in [1, 2, 4, 8, 16, 32, 64, 128] {
            let directory = parent + "/lineage-bench-\(UUID())"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let storage = CountingStorage(try await FileObjectStorage.create(root: directory), latency: latency)
            let (lineage, _) = try await NodeLineage.open(node: 0, storage: storage, snapshotInterval: interval)
            let written = terms + interval - 2
            // The node already holds `chunks` chunks: one big term, not measured.
            var held = (0..<chunks).map { "\($0)/1/0" }
            for chunk in held { lineage.record(.set(chunk: chunk, size: 100 << 10)) }
            try await lineage.closeTerm()
            let before = storage.counts
            var oldest = 0
            var closing = Duration.zero
            for term in 0..<written {
                for index in 0..<50 {
                    let chunk = "\(term * 50 + index)/0/0"
                    lineage.record(.set(chunk: chunk, size: 100 << 10))
                    held.append(chunk)
                }
                while held.count - oldest > chunks {
                    lineage.record(.delete(chunk: held[oldest]))
                    oldest += 1
                }
                let start = ContinuousClock.now
                try await lineage.closeTerm()
                closing += ContinuousClock.now - start
            }
            let writes = storage.counts.since(before)
            let start = ContinuousClock.now
            let recovery = try await NodeLineage.read(node: 0, storage: storage)
            let recoveryTime = ContinuousClock.now - start
            guard recovery.chunks.count == held.count - oldest else {
                print("recovery found \(recovery.chunks.count) chunks, expected \(held.count - oldest)")
                throw ExitCode()
            }
            let reads = storage.counts.since(before).reads - writes.reads
            print(
                pad(interval, 5),
                pad(format(Double(writes.requests) / Double(written), digits: 1), 15),
                pad(format(Double(writes.bytes) / Double(written) / 1024, digits: 1), 17),
                pad(format(milliseconds(closing) / Double(written), digits: 1), 15),
                pad(reads, 25),
                pad(format(milliseconds(recoveryTime)), 7)
            )
        }
    }

    struct ExitCode: Error {}

    static func milliseconds(_ duration: Duration) -> Double {
        duration / .milliseconds(1)
    }

    static func option(_ name: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    static func format(_ value: Double, digits: Int = 0) -> String {
        String(format: "%.\(digits)f", value)
    }

    static func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = value.description
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// A COS that counts requests and written bytes and adds a fixed delay to each request.
final class CountingStorage: ObjectStorage {
    struct Counts {
        var requests = 0
        var reads = 0
        var bytes = 0

        func since(_ earlier: Counts) -> Counts {
            Counts(requests: requests - earlier.requests, reads: reads - earlier.reads, bytes: bytes - earlier.bytes)
        }
    }

    private let base: any ObjectStorage
    private let latency: Duration
    private let state = Mutex(Counts())

    init(_ base: any ObjectStorage, latency: Duration) {
        self.base = base
        self.latency = latency
    }

    var counts: Counts { state.withLock { $0 } }

    private func request(reading: Bool = false, bytes: Int = 0) async throws {
        state.withLock { counts in
            counts.requests += 1
            counts.reads += reading ? 1 : 0
            counts.bytes += bytes
        }
        try await Task.sleep(for: latency)
    }

    func put(_ name: ObjectName, bytes: ByteBuffer) async throws {
        try await request(bytes: bytes.readableBytes)
        try await base.put(name, bytes: bytes)
    }

    func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer? {
        try await request(reading: true)
        return try await base.get(name, range: range)
    }

    func size(of name: ObjectName) async throws -> Int? {
        try await request(reading: true)
        return try await base.size(of: name)
    }

    func delete(_ name: ObjectName) async throws {
        try await request()
        try await base.delete(name)
    }

    func list(prefix: String) async throws -> [ObjectName] {
        try await request(reading: true)
        return try await base.list(prefix: prefix)
    }
}
