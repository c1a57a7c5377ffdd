import InfiniCoding
import InfiniMetadata
import NIOCore

/// The object store's side of the metadata log: every change to the keyspace is written here in
/// the same synchronous step as the change itself, so the log's order is the keyspace's order,
/// and a proxy killed at any moment and restarted finds every acknowledged write.
struct MetadataJournal {
    /// Versions are reserved in the log this many at a time: a version handed out before its
    /// write commits is never handed out again after a restart.
    static let versionReservation: UInt64 = 4096

    let log: any DurableMetadataLog
    private var reservedThrough: UInt64
    private(set) var isCheckpointing = false

    init(log: any DurableMetadataLog, highestVersion: UInt64) {
        self.log = log
        self.reservedThrough = highestVersion
    }

    /// Writes `record`; throws, before anything changes, if the log cannot take it.
    func write(_ record: MetadataRecord) throws -> MetadataLogPosition {
        do {
            return try log.write(record)
        } catch {
            throw CommandError("MISCONF Errors writing to the metadata log: \(error)")
        }
    }

    /// Returns once the record at `position` is as durable as the fsync policy promises.
    func waitUntilDurable(_ position: MetadataLogPosition) async throws {
        do {
            try await log.waitUntilDurable(position)
        } catch {
            throw CommandError("MISCONF Errors writing to the metadata log: \(error)")
        }
    }

    /// Makes sure `version` is reserved in the log before it is used.
    mutating func reserve(_ version: UInt64) throws {
        guard version > reservedThrough else { return }
        let through = version + Self.versionReservation
        _ = try write(.reserveVersions(through: through))
        reservedThrough = through
    }

    /// Starts a checkpoint when the log has grown enough: returns the boundary to write the
    /// snapshot at, or nil when none is due or one is being written.
    mutating func checkpointDue() -> MetadataCheckpointBoundary? {
        guard !isCheckpointing, log.needsCheckpoint, let boundary = try? log.beginCheckpoint() else { return nil }
        isCheckpointing = true
        return boundary
    }

    mutating func checkpointEnded() {
        isCheckpointing = false
    }
}

extension Keyspace {
    /// Every key's metadata, as a checkpoint stores it.
    var checkpointEntries: [(key: [UInt8], value: KeyMetadata)] {
        keys.compactMap { key in self[key].map { (key: Array(key.readableBytesView), value: $0) } }
    }
}

extension KeyMetadata {
    /// Every chunk of the version, with the index of the node that holds it.
    var chunkIDs: [(nodeIndex: Int, chunk: ChunkID)] {
        (0..<descriptor.stripeCount).flatMap { stripe in
            placement.enumerated().map { shard, nodeIndex in
                (nodeIndex: nodeIndex, chunk: ChunkID(version: descriptor.version, stripe: stripe, shard: shard))
            }
        }
    }

    /// Whether the chunks of `shard` go to the COS: the data shards do; parity stays in node
    /// memory, since the data chunks rebuild it. A replicated object (`d = 1`) is thus written
    /// to the COS once, not `1 + p` times.
    func isPersisted(shard: Int) -> Bool { shard < descriptor.geometry.dataShards }
}
