import ArgumentParser
import Foundation
import InfiniCOS
import InfiniMetadata
import InfiniProxy
import NIOCore
import UnixSignals

/// `infinistore serve`: the proxy with local memory-node processes.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Redis clients, storing values erasure-coded over local memory nodes."
    )

    @Option(help: "YAML file of settings (keys as the long flags, e.g. `node-port: 7000`); flags override it.")
    var config: String?

    @Option(help: "Client (Redis) port; 0 picks a free one (default: 6378).")
    var port: Int?

    @Option(name: .customLong("node-port"), help: "Port memory nodes dial into; 0 picks a free one (default: 6379).")
    var nodePort: Int?

    @Option(help: "Address to listen on (default: 127.0.0.1).")
    var bind: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the proxy's own files and the default COS (default: data).")
    var dataDirectory: String?

    @Option(help: "Where chunks are persisted: file:PATH or s3://BUCKET[/PREFIX] (default: file:<data-dir>/cos).")
    var cos: String?

    @Option(help: "When a SET is acknowledged: memory (all chunks in node memory) or cos (also in the COS) (default: memory).")
    var durability: String?

    @Option(help: "When the local metadata log is fsynced: always, everysec or no, as Redis's appendfsync (default: everysec).")
    var appendfsync: String?

    @Option(
        help: "Where the proxy's metadata log lives: local (<data-dir>/metadata) or cos (metadata/ in the COS, where a proxy on another machine finds it) (default: local)."
    )
    var metadata: String?

    @Option(help: "Erasure code as DATA+PARITY (default: 10+2).")
    var ec: String?

    @Option(help: "Number of local memory nodes (default: data + parity + 2).")
    var nodes: Int?

    @Option(
        name: .customLong("reclaim-after"),
        help: "Kill a local node process idle this many seconds, as Lambda reclaims idle sandboxes (default: never)."
    )
    var reclaimAfter: Double?

    @Option(
        name: .customLong("node-timeout"),
        help: "Seconds a request to a memory node may take before it fails, so a stuck node fails a write instead of hanging it (default: 30)."
    )
    var nodeTimeout: Double?

    @Option(help: "Password clients must AUTH with (Redis's requirepass).")
    var requirepass: String?

    @Option(help: "Most simultaneous client connections, Redis's maxclients (default: 10000).")
    var maxclients: Int?

    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest value a client may send, in bytes (default: 536870912).")
    var maximumBulkLength: Int?

    @Option(
        name: .customLong("read-cache"),
        help: "Bytes of hot values kept in the proxy to answer reads without the nodes, each value at most 1/64 of it; 0 turns it off (default: 67108864)."
    )
    var readCache: Int?

    @Option(
        name: .customLong("small-object-threshold"),
        help: "Values shorter than this many bytes are replicated on 1 + parity nodes instead of erasure-coded (default: 4096)."
    )
    var smallObjectThreshold: Int?

    @Option(help: "Seconds between warm-up invocations of each sleeping node, which keep its sandbox from being reclaimed; 0 sends none (default: 60).")
    var warmup: Double?

    @Option(
        name: .customLong("unpersisted-limit"),
        help: "Most bytes of chunks the proxy keeps until the nodes have persisted them; writes wait beyond it, at most --node-timeout (default: 536870912)."
    )
    var unpersistedLimit: Int?

    @Option(
        name: .customLong("write-behind"),
        help: "Seconds a node holds each chunk's COS write back, so a value overwritten or deleted within it is never written; 0 writes at once, as --durability cos always does (default: 1)."
    )
    var writeBehind: Double?

    @Option(
        name: .customLong("recovery-helpers"),
        help: "Most other nodes that help a node restoring its chunks, each loading a share and serving reads of it; 0 for none (default: 4)."
    )
    var recoveryHelpers: Int?

    @Option(
        name: .customLong("recovery-help-bytes"),
        help: "A restoring node gets one helper per this many bytes it has to restore (default: 67108864)."
    )
    var recoveryHelpBytes: Int?

    @Option(
        name: .customLong("client-memory"),
        help: "Most bytes of large values (64 KiB and up) arriving from and read for all clients at once; a client whose value would pass it waits until earlier ones are stored or sent. One value always goes through (default: 1073741824)."
    )
    var clientMemory: Int?

    /// The settings given as flags; a config file fills in the rest.
    private var flags: ServeSettings {
        ServeSettings(
            port: port, nodePort: nodePort, bind: bind, dataDirectory: dataDirectory, cos: cos,
            durability: durability, appendfsync: appendfsync, metadata: metadata, ec: ec, nodes: nodes, reclaimAfter: reclaimAfter, nodeTimeout: nodeTimeout,
            requirepass: requirepass, maxclients: maxclients, maximumBulkLength: maximumBulkLength, readCache: readCache,
            smallObjectThreshold: smallObjectThreshold, warmup: warmup, unpersistedLimit: unpersistedLimit, writeBehind: writeBehind,
            recoveryHelpers: recoveryHelpers, recoveryHelpBytes: recoveryHelpBytes, clientMemory: clientMemory
        )
    }

    func validate() throws {
        _ = try settings()
    }

    /// Flags over the config file over the defaults, checked.
    private func settings() throws -> ServeSettings.Resolved {
        var settings = flags
        if let config {
            do {
                settings = settings.overriding(try ServeSettings(yamlFile: config))
            } catch {
                throw ValidationError("--config \(config): \(error)")
            }
        }
        return try settings.resolved()
    }

    func run() async throws {
        let settings = try settings()
        let storage: any ObjectStorage
        let metadata: (log: any DurableMetadataLog, recovery: MetadataRecovery)
        var takeovers: AsyncStream<MetadataLogError>?
        do {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            storage = try await settings.location.open()
            try await Self.owner(of: settings).claim(storage)
            switch settings.metadataLocation {
            case .local:
                metadata = try MetadataLog.open(directory: settings.dataDirectory + "/metadata", configuration: .init(fsync: settings.fsync))
            case .cos:
                let opened = try await COSMetadataLog.open(storage: storage)
                takeovers = opened.log.takeovers
                metadata = (opened.log, opened.recovery)
            }
        } catch {
            Self.say("error: \(error)")
            throw ExitCode.failure
        }
        for note in metadata.recovery.notes { Self.say("metadata log: \(note)") }
        if metadata.recovery.replayedRecords > 0 || !metadata.recovery.state.entries.isEmpty {
            Self.say(
                "recovered \(metadata.recovery.state.entries.count) keys from the metadata log "
                    + "(\(metadata.recovery.replayedRecords) records replayed)"
            )
        }
        let invoker = LocalInvoker(
            configuration: .init(
                executable: Self.executablePath(),
                reclaimAfterIdle: settings.reclaimAfter,
                environment: ["INFINISTORE_COS": settings.location.description]
            )
        )
        let persistence = PersistenceTracker(capacity: settings.unpersistedLimit)
        let pool = NodePool(
            configuration: .init(
                nodeCount: settings.nodeCount,
                requestTimeout: settings.nodeTimeout,
                warmupInterval: settings.warmupInterval,
                recoveryHelpers: settings.recoveryHelpers,
                bytesPerRecoveryHelper: settings.recoveryHelpBytes,
                writeBehind: settings.writeBehind
            ),
            invoker: invoker,
            persistence: persistence
        )
        let store = ObjectStore(
            configuration: .init(
                geometry: settings.geometry,
                smallObjectThreshold: settings.smallObjectThreshold,
                durability: settings.durability,
                readCacheCapacity: settings.readCacheCapacity,
                backlogTimeout: settings.nodeTimeout
            ),
            nodes: pool.chunkNodes,
            storage: storage,
            persistence: persistence,
            metadata: (metadata.log, metadata.recovery.state)
        )
        let proxy = ProxyServer(
            configuration: .init(
                host: settings.bind,
                port: settings.port,
                maximumBulkLength: settings.maximumBulkLength,
                password: settings.requirepass,
                maximumClients: settings.maxclients,
                clientMemory: settings.clientMemory
            ),
            store: store,
            nodePool: pool
        )
        let nodePortServer = NodePortServer(host: settings.bind, port: settings.nodePort, pool: pool) { Self.say($0) }
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)

        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (nodePortReady, nodePortBound) = AsyncStream.makeStream(of: Int.self)
                group.addTask { await pool.run() }
                group.addTask {
                    for await node in pool.restoredNodeStream { await store.rebuildMemoryOnlyChunks(onNode: node) }
                }
                if settings.reclaimAfter != nil { group.addTask { await invoker.run() } }
                group.addTask {
                    defer { nodePortBound.finish() }
                    try await nodePortServer.run { address in nodePortBound.yield(address.port ?? 0) }
                }
                var ready = nodePortReady.makeAsyncIterator()
                guard let boundNodePort = await ready.next() else {
                    // The node port failed: its error ends the group, and the rest stops.
                    group.cancelAll()
                    try await group.waitForAll()
                    return
                }
                group.addTask {
                    try await proxy.run { address in
                        Self.say(
                            "serving Redis on \(settings.bind):\(address.port ?? 0); memory nodes dial "
                                + "\(settings.bind):\(boundNodePort); \(settings.nodeCount) local nodes, EC \(settings.geometry); "
                                + "COS \(settings.location), durability \(settings.durability.rawValue), "
                                + "metadata \(settings.metadataLocation.rawValue)"
                        )
                    }
                }
                if let takeovers {
                    // Its keyspace is no longer the log's: reads would serve what may be stale.
                    group.addTask {
                        for await takeover in takeovers {
                            Self.say("\(takeover); shutting down")
                            return
                        }
                    }
                }
                group.addTask {
                    for await signal in signals {
                        Self.say("received \(signal), shutting down")
                        return
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await invoker.shutdown()
            try? await metadata.log.shutDown()
            Self.say("error: \(error)")
            throw ExitCode.failure
        }
        await invoker.shutdown()
        do {
            try await metadata.log.shutDown()
        } catch {
            Self.say("error: closing the metadata log: \(error)")
            throw ExitCode.failure
        }
    }

    /// This proxy as the owner of its COS: the identity kept in its data directory (`proxy-id`,
    /// made on the first start), or with its metadata in the COS, the one any proxy taking that
    /// metadata over shares.
    private static func owner(of settings: ServeSettings.Resolved) async throws -> StorageOwner {
        let identity: String
        switch settings.metadataLocation {
        case .cos:
            identity = StorageOwner.metadataInTheCOS
        case .local:
            let directory = try await FileObjectStorage.create(root: settings.dataDirectory)
            let name = try ObjectName("proxy-id")
            _ = try await directory.create(name, bytes: ByteBuffer(string: UUID().uuidString.lowercased()))
            // Trimmed, so a file edited by hand still names the same proxy.
            let stored = try await directory.get(name).map { String(buffer: $0).trimmingCharacters(in: .whitespacesAndNewlines) }
            guard let stored, !stored.isEmpty else {
                throw ValidationError("\(settings.dataDirectory)/proxy-id is empty; it holds the identity the COS object \(StorageOwner.objectName) names")
            }
            identity = stored
        }
        return StorageOwner(
            identity: identity,
            host: ProcessInfo.processInfo.hostName,
            processID: getpid(),
            since: ISO8601DateFormatter().string(from: Date())
        )
    }

    static func say(_ line: String) {
        FileHandle.standardError.write(Data("infinistore: \(line)\n".utf8))
    }

    /// This binary's own path, which local memory nodes are started from.
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
