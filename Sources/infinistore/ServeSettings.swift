import ArgumentParser
import Foundation
import InfiniCOS
import InfiniCoding
import InfiniMetadata
import InfiniProxy
import Yams

/// The settings of `infinistore serve`, each optional: flags, a YAML config file, and the
/// defaults are layered, flags first. Keys in the file are the long flag names.
struct ServeSettings: Decodable {
    var port: Int?
    var nodePort: Int?
    var bind: String?
    var dataDirectory: String?
    var cos: String?
    var durability: String?
    var appendfsync: String?
    var metadata: String?
    var ec: String?
    var nodes: Int?
    var reclaimAfter: Double?
    var nodeTimeout: Double?
    var requirepass: String?
    var maxclients: Int?
    var maximumBulkLength: Int?
    var readCache: Int?
    var smallObjectThreshold: Int?
    var warmup: Double?
    var unpersistedLimit: Int?
    var writeBehind: Double?
    var recoveryHelpers: Int?
    var recoveryHelpBytes: Int?
    var clientMemory: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case port, bind, cos, durability, appendfsync, metadata, ec, nodes, requirepass, maxclients, warmup
        case nodePort = "node-port"
        case dataDirectory = "data-dir"
        case reclaimAfter = "reclaim-after"
        case nodeTimeout = "node-timeout"
        case maximumBulkLength = "proto-max-bulk-len"
        case readCache = "read-cache"
        case smallObjectThreshold = "small-object-threshold"
        case unpersistedLimit = "unpersisted-limit"
        case writeBehind = "write-behind"
        case recoveryHelpers = "recovery-helpers"
        case recoveryHelpBytes = "recovery-help-bytes"
        case clientMemory = "client-memory"
    }

    /// The settings after layering, with defaults filled in and every value checked.
    struct Resolved {
        var port: Int
        var nodePort: Int
        var bind: String
        /// An absolute path.
        var dataDirectory: String
        var location: StorageLocation
        var durability: ObjectStore.Durability
        var fsync: MetadataLog.FsyncPolicy
        var metadataLocation: MetadataLocation
        var geometry: ErasureGeometry
        var nodeCount: Int
        var reclaimAfter: Duration?
        var nodeTimeout: Duration
        var requirepass: String?
        var maxclients: Int
        var maximumBulkLength: Int
        var readCacheCapacity: Int
        var smallObjectThreshold: Int
        var warmupInterval: Duration?
        var unpersistedLimit: Int
        /// Zero under `--durability cos`, whose writes wait for the COS.
        var writeBehind: Duration
        var recoveryHelpers: Int
        var recoveryHelpBytes: Int
        var clientMemory: Int
    }

    /// Where the proxy's metadata log lives.
    enum MetadataLocation: String {
        /// `<data-dir>/metadata`: survives the process, not the machine.
        case local
        /// Under `metadata/` in the COS: any machine that reaches the COS can take over.
        case cos
    }

    static let fsyncPolicies: [String: MetadataLog.FsyncPolicy] = ["always": .always, "everysec": .everySecond, "no": .never]
}

extension ServeSettings {
    /// Reads a YAML mapping of settings; an unknown key is an error, not silently ignored.
    init(yamlFile path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let mapping = try Yams.load(yaml: text)
        guard let mapping = mapping as? [String: Any] else {
            if mapping == nil {
                self.init()
                return
            }
            throw ValidationError("expected a mapping of settings")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = mapping.keys.sorted().first(where: { !known.contains($0) }) {
            throw ValidationError("unknown setting '\(unknown)'")
        }
        self = try YAMLDecoder().decode(ServeSettings.self, from: text)
    }

    /// These settings where given, `base`'s elsewhere.
    func overriding(_ base: ServeSettings) -> ServeSettings {
        ServeSettings(
            port: port ?? base.port, nodePort: nodePort ?? base.nodePort, bind: bind ?? base.bind,
            dataDirectory: dataDirectory ?? base.dataDirectory, cos: cos ?? base.cos,
            durability: durability ?? base.durability, appendfsync: appendfsync ?? base.appendfsync,
            metadata: metadata ?? base.metadata, ec: ec ?? base.ec,
            nodes: nodes ?? base.nodes, reclaimAfter: reclaimAfter ?? base.reclaimAfter,
            nodeTimeout: nodeTimeout ?? base.nodeTimeout,
            requirepass: requirepass ?? base.requirepass, maxclients: maxclients ?? base.maxclients,
            maximumBulkLength: maximumBulkLength ?? base.maximumBulkLength, readCache: readCache ?? base.readCache,
            smallObjectThreshold: smallObjectThreshold ?? base.smallObjectThreshold, warmup: warmup ?? base.warmup,
            unpersistedLimit: unpersistedLimit ?? base.unpersistedLimit, writeBehind: writeBehind ?? base.writeBehind,
            recoveryHelpers: recoveryHelpers ?? base.recoveryHelpers, recoveryHelpBytes: recoveryHelpBytes ?? base.recoveryHelpBytes,
            clientMemory: clientMemory ?? base.clientMemory
        )
    }

    /// Fills in the defaults and checks every value, with the flag's name in each error.
    func resolved() throws -> Resolved {
        let geometry: ErasureGeometry
        do {
            geometry = try ErasureGeometry(ec ?? "10+2")
        } catch {
            throw ValidationError(error.message)
        }
        guard let durability = ObjectStore.Durability(rawValue: durability ?? "memory") else {
            throw ValidationError("--durability must be memory or cos")
        }
        guard let fsync = Self.fsyncPolicies[appendfsync ?? "everysec"] else {
            throw ValidationError("--appendfsync must be always, everysec or no")
        }
        guard let metadataLocation = MetadataLocation(rawValue: metadata ?? "local") else {
            throw ValidationError("--metadata must be local or cos")
        }
        if let reclaimAfter, !(reclaimAfter > 0) { throw ValidationError("--reclaim-after must be positive") }
        let warmup = warmup ?? 60
        let unpersistedLimit = unpersistedLimit ?? PersistenceTracker.defaultCapacity
        guard unpersistedLimit >= 1 else { throw ValidationError("--unpersisted-limit must be at least 1") }
        let writeBehind = durability == .cos ? 0 : writeBehind ?? 1
        guard writeBehind >= 0, writeBehind <= 60 else { throw ValidationError("--write-behind must be between 0 and 60 seconds") }
        guard warmup >= 0, warmup <= 86_400 else { throw ValidationError("--warmup must be between 0 and 86400 seconds") }
        let recoveryHelpers = recoveryHelpers ?? 4
        guard recoveryHelpers >= 0 else { throw ValidationError("--recovery-helpers must not be negative") }
        let recoveryHelpBytes = recoveryHelpBytes ?? 64 << 20
        guard recoveryHelpBytes >= 1 else { throw ValidationError("--recovery-help-bytes must be at least 1") }
        let clientMemory = clientMemory ?? ProxyServer.Configuration.defaultClientMemory
        guard clientMemory >= 1 else { throw ValidationError("--client-memory must be at least 1") }
        let nodeTimeout = nodeTimeout ?? 30
        guard nodeTimeout > 0, nodeTimeout <= 3600 else { throw ValidationError("--node-timeout must be between 0 and 3600 seconds") }
        let maxclients = maxclients ?? 10_000
        guard maxclients >= 1 else { throw ValidationError("--maxclients must be at least 1") }
        let maximumBulkLength = maximumBulkLength ?? 512 << 20
        guard maximumBulkLength >= 1, maximumBulkLength <= 1 << 30 else {
            throw ValidationError("--proto-max-bulk-len must be between 1 and 1073741824")
        }
        let readCacheCapacity = readCache ?? ObjectStore.Configuration.defaultReadCacheCapacity
        guard readCacheCapacity >= 0 else { throw ValidationError("--read-cache must not be negative") }
        let smallObjectThreshold = smallObjectThreshold ?? ObjectStore.Configuration.defaultSmallObjectThreshold
        guard smallObjectThreshold >= 0 else { throw ValidationError("--small-object-threshold must not be negative") }
        let nodeCount = nodes ?? geometry.totalShards + 2
        guard nodeCount >= geometry.totalShards else {
            throw ValidationError("--nodes \(nodeCount) is fewer than the \(geometry.totalShards) chunks of each object (--ec \(geometry))")
        }
        for (name, port) in [("--port", port), ("--node-port", nodePort)] {
            if let port, !(0...65535).contains(port) { throw ValidationError("\(name) must be between 0 and 65535") }
        }
        let dataDirectory = URL(fileURLWithPath: dataDirectory ?? "data").standardizedFileURL.path
        let location: StorageLocation
        do {
            location = try StorageLocation(parsing: cos ?? "file:\(dataDirectory)/cos")
        } catch {
            throw ValidationError("--cos: \(error)")
        }
        return Resolved(
            port: port ?? 6378,
            nodePort: nodePort ?? 6379,
            bind: bind ?? "127.0.0.1",
            dataDirectory: dataDirectory,
            location: location,
            durability: durability,
            fsync: fsync,
            metadataLocation: metadataLocation,
            geometry: geometry,
            nodeCount: nodeCount,
            reclaimAfter: reclaimAfter.map { .seconds($0) },
            nodeTimeout: .seconds(nodeTimeout),
            requirepass: requirepass,
            maxclients: maxclients,
            maximumBulkLength: maximumBulkLength,
            readCacheCapacity: readCacheCapacity,
            smallObjectThreshold: smallObjectThreshold,
            warmupInterval: warmup > 0 ? .seconds(warmup) : nil,
            unpersistedLimit: unpersistedLimit,
            writeBehind: .seconds(writeBehind),
            recoveryHelpers: recoveryHelpers,
            recoveryHelpBytes: recoveryHelpBytes,
            clientMemory: clientMemory
        )
    }
}
