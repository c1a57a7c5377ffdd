import Foundation
import InfiniCOS
import InfiniCodingReference
import InfiniNode
import ProcessSpawning
import ProcessTestSupport
import Testing

/// Write-through to the file COS, reads that outlive node memory, and garbage collection, with
/// the real binary and real node processes. The read cache is off, so reads after a failure go
/// to the nodes and the COS.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DurabilityTests {
    /// Chunk objects in the proxy's file COS.
    private static func storedChunks(_ proxy: RunningProxy) -> [String] {
        let root = proxy.dataDirectory.appendingPathComponent("cos/chunks")
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        // A put in progress is a temporary file whose name has a space, which no object name has.
        return walker.compactMap { $0 as? String }.filter { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path).path)
            return attributes?[.type] as? FileAttributeType == .typeRegular && !path.contains(" ")
        }
    }

    @Test func chunksAreWrittenThroughAndFreedWithTheirKeys() throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6"])
        // Small values are replicated on 1 + p = 3 nodes; a 64 KiB value is coded into 4 + 2.
        // Only data chunks go to the COS: one copy of a small value, four chunks of the large one.
        for index in 0..<10 { #expect(try redisCLI(proxy.port, ["SET", "small:\(index)", "value \(index)"]) == "OK\n") }
        let large = Data(SampleData.random(64 << 10, seed: 7))
        #expect(try redisCLI(proxy.port, ["-x", "SET", "large"], input: large) == "OK\n")
        #expect(eventually { proxy.info("infinistore_unpersisted_chunks") == "0" })
        let stored = Self.storedChunks(proxy)
        #expect(stored.count == 10 + 4)
        #expect(stored.allSatisfy { ["-0", "-1", "-2", "-3"].contains(String($0.suffix(2))) }, "a parity chunk reached the COS: \(stored)")

        #expect(try redisCLI(proxy.port, ["SET", "large", "now small"]) == "OK\n")
        #expect(try redisCLI(proxy.port, ["DEL", "small:0", "small:1"]) == "2\n")
        #expect(eventually { Self.storedChunks(proxy).count == 9 })
        proxy.stop()
    }

    /// A hot key overwritten many times: versions superseded within the nodes' write-behind are
    /// never written to the COS, and the last one is, so it survives the loss of every node.
    @Test func overwritesWithinTheWriteBehindNeverReachTheCOS() throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--write-behind", "5"])
        let script = (0..<200).map { "SET hot value-\($0)" }.joined(separator: "\n")
        let replies = try redisCLI(proxy.port, [], input: Data(script.utf8))
        #expect(replies == String(repeating: "OK\n", count: 200))
        #expect(eventually { proxy.info("infinistore_unpersisted_chunks") == "0" && proxy.info("infinistore_garbage_chunks") == "0" })
        let saved = Int(proxy.info("infinistore_cos_writes_saved") ?? "") ?? 0
        #expect(saved >= 150, "only \(saved) of 199 superseded writes were saved")
        #expect(Self.storedChunks(proxy).count == 1)

        let nodes = proxy.nodeProcessIDs
        for pid in nodes { kill(pid, SIGKILL) }
        #expect(eventually { nodes.allSatisfy { !isAlive($0) } })
        #expect(try redisCLI(proxy.port, ["GET", "hot"]) == "value-199\n")
        proxy.stop()
    }

    @Test func everythingComesBackFromTheCOSAfterAllNodesDie() throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--durability", "cos"])
        var values: [String: Data] = [:]
        for index in 0..<8 { values["small:\(index)"] = Data("value \(index)".utf8) }
        for index in 0..<3 { values["large:\(index)"] = Data(SampleData.random((3 << 20) + index, seed: UInt64(index))) }
        for (key, value) in values { #expect(try redisCLI(proxy.port, ["-x", "SET", key], input: value) == "OK\n") }
        // With --durability cos, acknowledged means in the COS: nothing may be left to persist.
        #expect(proxy.info("infinistore_unpersisted_chunks") == "0")

        let nodes = proxy.nodeProcessIDs
        #expect(nodes.count == 6)
        for pid in nodes { kill(pid, SIGKILL) }
        #expect(eventually { nodes.allSatisfy { !isAlive($0) } })
        for (key, value) in values {
            let read = try runProcess("/usr/bin/redis-cli", ["-p", String(proxy.port), "--raw", "GET", key]).output
            #expect(isValueLine(read, value), "\(key) did not come back whole")
        }
        proxy.stop()
    }

    /// A node killed with SIGKILL comes back empty. On its next invocation (a warm-up here) it
    /// reads its lineage and restores every chunk it made durable before any read asks for one:
    /// after that, reads succeed with the chunk objects gone from the COS. Then the proxy
    /// rebuilds the chunks that were only ever in memory.
    @Test func killedNodesRestoreTheirChunksFromTheirLineage() async throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "2+1", "--nodes", "3", "--warmup", "0.25"])
        var values: [String: Data] = [:]
        for index in 0..<20 { values["small:\(index)"] = Data("value \(index)".utf8) }
        for index in 0..<2 { values["large:\(index)"] = Data(SampleData.random((200 << 10) + index, seed: UInt64(index))) }
        for (key, value) in values { #expect(try redisCLI(proxy.port, ["-x", "SET", key], input: value) == "OK\n") }
        #expect(eventually { proxy.info("infinistore_unpersisted_chunks") == "0" })
        let stored = Self.storedChunks(proxy).count
        #expect(stored == 20 + 2 * 2)

        // Each durable chunk enters its node's lineage within a term (a second).
        let deadline = ContinuousClock.now + .seconds(10)
        while try await Self.chunksInLineages(proxy, nodes: 3) < stored, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await Self.chunksInLineages(proxy, nodes: 3) == stored)

        let nodes = proxy.nodeProcessIDs
        #expect(nodes.count == 3)
        for pid in nodes { kill(pid, SIGKILL) }
        #expect(eventually { nodes.allSatisfy { !isAlive($0) } })
        #expect(eventually { proxy.info("infinistore_node_restored_chunks") == String(stored) })
        #expect(proxy.log.contains("chunks listed by lineage term"))

        try FileManager.default.removeItem(at: proxy.dataDirectory.appendingPathComponent("cos/chunks"))
        for (key, value) in values {
            let read = try runProcess("/usr/bin/redis-cli", ["-p", String(proxy.port), "--raw", "GET", key]).output
            #expect(isValueLine(read, value), "\(key) did not come back whole")
        }

        // The chunks the COS never held (each small value's second copy, each large value's
        // parity) are rebuilt from the others once their nodes are restored: with one node
        // stopped and the COS gone, every value is still there in memory.
        #expect(eventually { proxy.info("infinistore_rebuilt_chunks") == "22" })
        let stopped = proxy.nodeProcessIDs[0]
        kill(stopped, SIGSTOP)
        defer { kill(stopped, SIGCONT) }
        for (key, value) in values {
            let read = try runProcess("/usr/bin/redis-cli", ["-p", String(proxy.port), "--raw", "GET", key]).output
            #expect(isValueLine(read, value), "\(key) did not come back with a node stopped")
        }
        kill(stopped, SIGCONT)
        proxy.stop()
    }

    /// Nodes whose proxy dies finish the COS writes they accepted and record them in their
    /// lineage before they exit, so a later run restores them too.
    @Test func nodesFinishTheirWritesWhenTheProxyIsKilled() async throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6"])
        let script = (0..<200).map { "SET key:\($0) \(String(repeating: "v", count: 100 + $0))" }.joined(separator: "\n")
        let replies = try redisCLI(proxy.port, [], input: Data(script.utf8))
        #expect(replies.split(separator: "\n").count == 200 && !replies.contains("ERR"))
        let nodes = proxy.nodeProcessIDs
        proxy.stop(signal: SIGKILL)
        #expect(await eventuallyAsync { nodes.allSatisfy { !isAlive($0) } })
        #expect(Self.storedChunks(proxy).count == 200)
        #expect(try await Self.chunksInLineages(proxy, nodes: 6) == 200)
    }

    /// How many chunks the lineages of nodes `0..<nodes` list.
    private static func chunksInLineages(_ proxy: RunningProxy, nodes: Int) async throws -> Int {
        let storage = FileObjectStorage(root: proxy.dataDirectory.appendingPathComponent("cos").path)
        var count = 0
        for node in 0..<nodes { count += try await NodeLineage.read(node: node, storage: storage).chunks.count }
        return count
    }

    @Test func writesFailWithTheBacklogWhenTheCOSCannotKeepUp() throws {
        let dataDirectory = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        // A file where the chunk directory belongs: every chunk write fails, even for root.
        try FileManager.default.createDirectory(at: dataDirectory.appendingPathComponent("cos"), withIntermediateDirectories: true)
        try Data().write(to: dataDirectory.appendingPathComponent("cos/chunks"))
        let proxy = try RunningProxy(
            ["--read-cache", "0", "--ec", "2+1", "--nodes", "3", "--unpersisted-limit", "1000", "--node-timeout", "2"],
            dataDirectory: dataDirectory
        )
        let value = String(repeating: "v", count: 800)
        #expect(try redisCLI(proxy.port, ["SET", "first", value]) == "OK\n")
        // A replicated value's one data chunk, 896 bytes (a 64-byte header and the value padded
        // to 64 bytes), is kept; another would pass 1000.
        let refused = try redisCLI(proxy.port, ["SET", "second", value]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(refused == "ERR the COS is behind: 896 bytes of chunks are waiting to be persisted")
        #expect(proxy.info("infinistore_unpersisted_bytes") == "896")
        #expect(try redisCLI(proxy.port, ["GET", "first"]) == value + "\n")
        #expect(try redisCLI(proxy.port, ["GET", "second"]) == "\n", "a failed write became visible")
        // Deleting the first value frees its bytes, and writes go on.
        #expect(try redisCLI(proxy.port, ["DEL", "first"]) == "1\n")
        #expect(try redisCLI(proxy.port, ["SET", "second", value]) == "OK\n")
        proxy.stop()
    }

    @Test func aProxyKilledWithSIGKILLComesBackWithEveryAcknowledgedWrite() throws {
        let dataDirectory = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        var proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6"], dataDirectory: dataDirectory)
        let values = try writeRestartSample(proxy.port, small: 40, large: 3)
        let nodes = proxy.nodeProcessIDs
        proxy.stop(signal: SIGKILL)
        // Orphaned nodes finish their COS writes and exit, as they would before a restart.
        #expect(eventually { nodes.allSatisfy { !isAlive($0) } })
        // A chunk of a write that was never committed: version 4000 was reserved, never used.
        let orphan = dataDirectory.appendingPathComponent("cos/chunks/a0/4000-0-0")
        try FileManager.default.createDirectory(at: orphan.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("orphan".utf8).write(to: orphan)

        proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6"], dataDirectory: dataDirectory)
        // The restarted proxy sweeps it away, and only it: every value still reads back below.
        #expect(eventually { !FileManager.default.fileExists(atPath: orphan.path) })
        #expect(Int(proxy.info("infinistore_orphaned_chunks_deleted") ?? "") ?? 0 >= 1)
        try expectRestartSample(values, proxy.port)
        proxy.stop()
    }

    /// With `--metadata cos` the proxy's metadata lives in the COS: a proxy killed with SIGKILL
    /// and started on a new machine (a fresh data directory, the same COS) serves every
    /// acknowledged write, with the same TTLs, its nodes restoring their chunks from their
    /// lineage.
    @Test func aProxyOnANewMachineFindsItsMetadataInTheCOS() throws {
        let cos = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cos) }
        let arguments = ["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--metadata", "cos", "--cos", "file:\(cos.path)"]
        var proxy = try RunningProxy(arguments + ["--durability", "cos"])
        let values = try writeRestartSample(proxy.port, small: 30, large: 2)
        // Nothing of the metadata is on the machine being lost.
        #expect(!FileManager.default.fileExists(atPath: proxy.dataDirectory.appendingPathComponent("metadata").path))
        let nodes = proxy.nodeProcessIDs
        proxy.stop(signal: SIGKILL)
        #expect(eventually { nodes.allSatisfy { !isAlive($0) } })

        proxy = try RunningProxy(arguments)
        try expectRestartSample(values, proxy.port)
        proxy.stop()
    }

    /// A proxy started on another machine takes `--metadata cos` over while the first still
    /// runs: the first write the new proxy logs fences the old one, whose write fails with
    /// MISCONF instead of interleaving with the new proxy's in the log, and which then stops.
    @Test func aProxyWhoseMetadataWasTakenOverTakesNoMoreWritesAndStops() throws {
        let cos = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cos) }
        // Acknowledged once in the COS: the new proxy's nodes cannot read the old one's memory.
        let arguments = [
            "--read-cache", "0", "--ec", "2+1", "--nodes", "3", "--metadata", "cos", "--cos", "file:\(cos.path)", "--durability", "cos",
        ]
        let old = try RunningProxy(arguments)
        #expect(try redisCLI(old.port, ["SET", "k", "before"]) == "OK\n")
        let new = try RunningProxy(arguments)
        #expect(try redisCLI(new.port, ["GET", "k"]) == "before\n")
        #expect(try redisCLI(new.port, ["SET", "k", "after"]) == "OK\n")

        let refused = try redisCLI(old.port, ["SET", "k", "from the old proxy"])
        #expect(refused.hasPrefix("MISCONF Errors writing to the metadata log"), "\(refused)")
        #expect(refused.contains("another proxy took the metadata log over"), "\(refused)")
        #expect(eventually { old.process.termination != nil }, "the old proxy still runs")
        #expect(old.log.contains("this proxy takes no more writes; shutting down"))
        old.stop()
        new.stop()

        let restarted = try RunningProxy(arguments)
        #expect(try redisCLI(restarted.port, ["GET", "k"]) == "after\n")
        restarted.stop()
    }

    @Test func stuckNodesFailAWriteByTheDeadlineAndNeverBlockItsKey() throws {
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--node-timeout", "1"])
        #expect(try redisCLI(proxy.port, ["SET", "k", "before"]) == "OK\n")
        #expect(eventually { proxy.info("infinistore_unpersisted_chunks") == "0" })
        let nodes = proxy.nodeProcessIDs
        for pid in nodes { kill(pid, SIGSTOP) }
        defer { for pid in nodes { kill(pid, SIGCONT) } }

        let started = Date()
        #expect(try redisCLI(proxy.port, ["SET", "k", "stuck"]).hasPrefix("ERR memory node"))
        #expect(Date().timeIntervalSince(started) < 10, "the write must fail by its deadline, not hang")
        #expect(try redisCLI(proxy.port, ["PING"]) == "PONG\n")
        // Reads get past the stuck nodes too: the committed version is in the COS.
        #expect(try redisCLI(proxy.port, ["GET", "k"]) == "before\n")

        for pid in nodes { kill(pid, SIGCONT) }
        #expect(try redisCLI(proxy.port, ["SET", "k", "after"]) == "OK\n")
        #expect(try redisCLI(proxy.port, ["GET", "k"]) == "after\n")
        proxy.stop()
    }

    /// Writes small and 1 MiB values, overwrites one, deletes one and sets a TTL on one: what a
    /// restarted proxy must give back. Returns the values that should be there.
    private func writeRestartSample(_ port: Int, small: Int, large: Int) throws -> [String: Data] {
        var values: [String: Data] = [:]
        for index in 0..<small { values["small:\(index)"] = Data("value \(index)".utf8) }
        for index in 0..<large { values["large:\(index)"] = Data(SampleData.random((1 << 20) + index, seed: UInt64(10 + index))) }
        for (key, value) in values { #expect(try redisCLI(port, ["-x", "SET", key], input: value) == "OK\n") }
        #expect(try redisCLI(port, ["SET", "small:0", "overwritten"]) == "OK\n")
        values["small:0"] = Data("overwritten".utf8)
        #expect(try redisCLI(port, ["DEL", "small:1"]) == "1\n")
        values["small:1"] = nil
        #expect(try redisCLI(port, ["EXPIRE", "small:2", "3600"]) == "1\n")
        return values
    }

    /// Every value of ``writeRestartSample(_:small:large:)`` reads back byte-exact, the deleted
    /// key stays deleted, the TTL is kept, and new writes never reuse a version.
    private func expectRestartSample(_ values: [String: Data], _ port: Int) throws {
        #expect(try redisCLI(port, ["DBSIZE"]) == "\(values.count)\n")
        for (key, value) in values {
            let read = try runProcess("/usr/bin/redis-cli", ["-p", String(port), "--raw", "GET", key]).output
            #expect(isValueLine(read, value), "\(key) did not survive the restart")
        }
        #expect(try redisCLI(port, ["EXISTS", "small:1"]) == "0\n")
        let ttl = Int(try redisCLI(port, ["TTL", "small:2"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect((3500...3600).contains(ttl))
        #expect(try redisCLI(port, ["SET", "small:3", "after restart"]) == "OK\n")
        #expect(try redisCLI(port, ["GET", "small:3"]) == "after restart\n")
    }
}
