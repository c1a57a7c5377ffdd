import BenchmarkSupport
import Foundation
import InfiniCOS
import InfiniNode

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
}
