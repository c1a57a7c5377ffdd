#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import InfiniCoding

/// The text of INFO: `# Section` headers and `field:value` lines joined by CRLF, sections
/// separated by a blank line, as Redis writes it and as client libraries parse it.
struct InfoReport {
    /// The Redis version the proxy presents (HELLO, INFO), whose command set it follows.
    static let redisVersion = "7.2.0"

    /// Sections in the order Redis lists them; `infinistore` describes the erasure coding.
    static let sections = ["server", "clients", "memory", "stats", "keyspace", "infinistore"]

    let server: ServerState
    let store: ObjectStore.Statistics

    /// The report for the sections INFO was asked for: none, `default`, `all` or `everything`
    /// mean every section; names are case-insensitive and unknown ones are skipped.
    func text(for requested: [String]) -> String {
        let names = Set(requested.map { $0.lowercased() })
        let all = names.isEmpty || !names.isDisjoint(with: ["default", "all", "everything"])
        return Self.sections.filter { all || names.contains($0) }
            .map { section in lines(of: section).joined(separator: "\r\n") + "\r\n" }
            .joined(separator: "\r\n")
    }

    private func lines(of section: String) -> [String] {
        let statistics = server.statistics
        let settings = server.settings
        let uptime = (ContinuousClock.now - server.startedAt).components.seconds
        switch section {
        case "server":
            return [
                "# Server",
                "redis_version:\(Self.redisVersion)",
                "redis_mode:standalone",
                "os:\(Self.operatingSystem)",
                "arch_bits:\(Int.bitWidth)",
                "process_id:\(getpid())",
                "run_id:\(server.runID)",
                "tcp_port:\(server.port)",
                "server_time_usec:\(server.store.now() * 1000)",
                "uptime_in_seconds:\(uptime)",
                "uptime_in_days:\(uptime / 86_400)",
                "hz:10",
                "executable:",
                "config_file:",
            ]
        case "clients":
            return [
                "# Clients",
                "connected_clients:\(statistics.connectedClients)",
                "maxclients:\(settings.maximumClients)",
                "blocked_clients:0",
                "tracking_clients:0",
            ]
        case "memory":
            // The values live on the memory nodes; this is their logical size, before coding.
            return [
                "# Memory",
                "used_memory:\(store.valueBytes)",
                "used_memory_human:\(Self.humanBytes(store.valueBytes))",
                "maxmemory:0",
                "maxmemory_human:0B",
                "maxmemory_policy:noeviction",
                "infinistore_client_memory:\(server.clientMemory.capacity)",
                "infinistore_client_memory_held:\(server.clientMemory.reservedBytes)",
                "infinistore_client_memory_peak:\(server.clientMemory.peakBytes)",
                "infinistore_client_memory_waits:\(server.clientMemory.waitCount)",
            ]
        case "stats":
            return [
                "# Stats",
                "total_connections_received:\(statistics.totalConnections)",
                "total_commands_processed:\(statistics.totalCommands)",
                "rejected_connections:\(statistics.rejectedConnections)",
                "expired_keys:\(store.expiredKeys)",
                "evicted_keys:0",
                "keyspace_hits:\(store.hits)",
                "keyspace_misses:\(store.misses)",
            ]
        case "keyspace":
            // Like Redis, an empty database gets no line.
            let database = store.keys > 0 ? ["db0:keys=\(store.keys),expires=\(store.volatileKeys),avg_ttl=0"] : []
            return ["# Keyspace"] + database
        default:
            let geometry = server.store.configuration.geometry
            return [
                "# InfiniStore",
                "infinistore_geometry:\(geometry)",
                "infinistore_data_shards:\(geometry.dataShards)",
                "infinistore_parity_shards:\(geometry.parityShards)",
                "infinistore_nodes:\(server.store.nodeCount)",
                "infinistore_small_object_threshold:\(server.store.configuration.smallObjectThreshold)",
                "infinistore_durability:\(server.store.configuration.durability.rawValue)",
                "infinistore_unpersisted_chunks:\(store.unpersistedChunks)",
                "infinistore_unpersisted_bytes:\(store.unpersistedBytes)",
                "infinistore_garbage_chunks:\(store.garbageChunks)",
                "infinistore_cos_writes_saved:\(store.unwrittenChunks)",
                "infinistore_write_behind_flushes:\(store.flushRequests)",
                "infinistore_read_cache_capacity:\(server.store.configuration.readCacheCapacity)",
                "infinistore_read_cache_bytes:\(store.readCacheBytes)",
                "infinistore_read_cache_hits:\(store.readCacheHits)",
                "infinistore_hedged_reads:\(store.hedgedReads)",
                "infinistore_orphaned_chunks_deleted:\(store.orphanedChunks)",
                "infinistore_rebuilt_chunks:\(store.rebuiltChunks)",
                "infinistore_node_restored_chunks:\(server.nodePool?.restoredChunks ?? 0)",
                "infinistore_recovery_helpers_assigned:\(server.nodePool?.recoveryHelpersAssigned ?? 0)",
                "infinistore_recovery_helper_reads:\(server.nodePool?.recoveryHelperReads ?? 0)",
            ]
        }
    }

    private static let operatingSystem: String = {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"
    }()

    /// Bytes as Redis's `bytesToHuman` writes them: `B`, or two decimals and `K` `M` `G` `T`.
    static func humanBytes(_ bytes: Int) -> String {
        guard bytes >= 1024 else { return "\(bytes)B" }
        var value = Double(bytes) / 1024
        var unit = 0
        let units = ["K", "M", "G", "T", "P"]
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)\(units[unit])"
    }
}
