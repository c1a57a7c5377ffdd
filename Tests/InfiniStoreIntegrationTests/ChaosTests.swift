import Foundation
import HistoryChecking
import PortTestSupport
import ProcessSpawning
import RESP
import Testing

/// Failure on purpose, with a recorded history checked for linearizability: node processes
/// killed under load, and the proxy itself killed with SIGKILL and restarted. The read cache is
/// off, so every read meets the failures; the linearizability tests check the cache.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChaosTests {
    /// Kills one random node process every `interval` until cancelled; returns how many it killed.
    private static func killNodes(ofProxy pid: Int32, every interval: Duration) async -> Int {
        var killed = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled, let victim = RunningProxy.nodeProcessIDs(ofProxy: pid).randomElement() else { continue }
            if kill(victim, SIGKILL) == 0 { killed += 1 }
        }
        return killed
    }

    /// Reads every key the history wrote, after everything else, into the same history: the
    /// checker then demands that each returns its last acknowledged value.
    private static func readBack(_ history: [HistoryChecking.Operation], port: Int) async throws -> [HistoryChecking.Operation] {
        var time = (history.map(\.response).max() ?? 0) + 1
        var reads: [HistoryChecking.Operation] = []
        let client = try await TestRedisClient.connect(port: port, defaultTimeout: .seconds(60))
        for key in Set(history.map(\.key)) {
            let reply = try await client.send(["GET", key])
            let value = reply.bufferValue.map { BinaryString(buffer: $0) }
            reads.append(HistoryChecking.Operation(client: -1, key: key, kind: .read, invocation: time, response: time + 1, outcome: .returned(value)))
            time += 2
        }
        await client.close()
        return history + reads
    }

    @Test func aMixedWorkloadStaysLinearizableWhileNodesAreKilled() async throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "7"])
        let (port, pid) = (proxy.port, proxy.process.id)
        // Keys written once before the kills and read after them: by then most have lost more
        // than p of their chunks with the node processes, so only durable copies bring them back.
        let client = try await TestRedisClient.connect(port: port, defaultTimeout: .seconds(60))
        var untouched: [BinaryString: BinaryString] = [:]
        for index in 0..<30 {
            let value = BinaryString(Array(repeating: UInt8(index), count: index.isMultiple(of: 3) ? 200_000 : 100))
            untouched[BinaryString("untouched-\(index)")] = value
            #expect(try await client.send(["SET", BinaryString("untouched-\(index)"), value]).stringValue == "OK")
        }
        let killer = Task { await Self.killNodes(ofProxy: pid, every: .milliseconds(800)) }
        async let small = runRegisterWorkload(
            clients: 6, keys: 4, duration: .seconds(8), valueSize: 64, port: port,
            options: RegisterWorkloadOptions(readFraction: 0.5, deleteFraction: 0.1, keyPrefix: "small-")
        )
        async let large = runRegisterWorkload(
            clients: 2, keys: 2, duration: .seconds(8), valueSize: 300_000, port: port,
            options: RegisterWorkloadOptions(readFraction: 0.5, keyPrefix: "large-")
        )
        let workload = try await small + large
        killer.cancel()
        let kills = await killer.value
        #expect(kills >= 5, "the test must kill nodes to mean anything")
        let history = try await Self.readBack(workload, port: port)
        let result = LinearizabilityChecker().check(history)
        #expect(result.isLinearizable, "\(result)")
        #expect(history.filter { $0.outcome != .unknown }.count > 100, "too few operations completed")
        for (key, value) in untouched {
            let reply = try await client.send(["GET", key])
            #expect(reply.bufferValue.map { BinaryString(buffer: $0) } == value, "\(key) came back as \(reply)")
        }
        await client.close()
        proxy.stop()
    }

    /// With the metadata log on local disk, and in the COS.
    @Test(arguments: ["local", "cos"])
    func aProxyKilledMidWorkloadComesBackWithEveryAcknowledgedWrite(metadata: String) async throws {
        let dataDirectory = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let port = try freeLoopbackPort()
        let arguments = ["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--metadata", metadata]
        var proxy = try RunningProxy(arguments, dataDirectory: dataDirectory, port: port)
        async let workload = runRegisterWorkload(
            clients: 6, keys: 6, duration: .seconds(6), valueSize: 1000, port: port,
            options: RegisterWorkloadOptions(readFraction: 0.4, deleteFraction: 0.1, reconnectTimeout: .seconds(30))
        )
        try await Task.sleep(for: .seconds(2))
        let nodes = proxy.nodeProcessIDs
        proxy.stop(signal: SIGKILL)
        #expect(await eventuallyAsync { nodes.allSatisfy { !isAlive($0) } })
        proxy = try RunningProxy(arguments, dataDirectory: dataDirectory, port: port)
        let history = try await Self.readBack(try await workload, port: port)
        let result = LinearizabilityChecker().check(history)
        #expect(result.isLinearizable, "\(result)")
        proxy.stop()
    }
}
