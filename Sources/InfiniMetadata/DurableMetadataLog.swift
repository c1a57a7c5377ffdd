/// What the proxy needs from its metadata log, wherever the log is kept: ``MetadataLog`` on local
/// disk, ``COSMetadataLog`` in the COS. The rules on order, durability and checkpoints are
/// ``MetadataLog``'s; the COS log keeps them with objects instead of files.
public protocol DurableMetadataLog: AnyObject, Sendable {
    /// Appends `record` to the log before returning, in the order of calls.
    func write(_ record: MetadataRecord) throws(MetadataLogError) -> MetadataLogPosition

    /// Returns once the record at `position` is as durable as the log promises.
    func waitUntilDurable(_ position: MetadataLogPosition) async throws(MetadataLogError)

    /// Whether enough log has grown since the last checkpoint, and none is being written.
    var needsCheckpoint: Bool { get }

    /// Starts a checkpoint: records written before this returns are all before the boundary.
    func beginCheckpoint() throws(MetadataLogError) -> MetadataCheckpointBoundary

    /// Writes the checkpoint begun at `boundary` from a snapshot taken after it began, then
    /// removes what it replaces.
    func checkpoint(
        _ entries: [(key: [UInt8], value: KeyMetadata)],
        at boundary: MetadataCheckpointBoundary
    ) async throws(MetadataLogError)

    /// Makes what was written durable and stops taking records.
    func shutDown() async throws(MetadataLogError)
}

/// A record's place in the order of writes since the log was opened.
public struct MetadataLogPosition: Hashable, Comparable, Sendable {
    let index: UInt64

    public static func < (lhs: MetadataLogPosition, rhs: MetadataLogPosition) -> Bool { lhs.index < rhs.index }
}

/// The point a checkpoint describes the state at: the start of segment (or batch) ``sequence``.
public struct MetadataCheckpointBoundary: Hashable, Sendable {
    /// The first segment the checkpoint does not cover; the checkpoint is named after it.
    public let sequence: UInt64
    let highestVersion: UInt64
    /// Bytes of log between the previous checkpoint and this boundary.
    let logBytes: Int
}

/// What opening a log found.
public struct MetadataRecovery: Sendable {
    public var state: MetadataState
    /// Records replayed from segments after the checkpoint.
    public var replayedRecords: Int
    /// What recovery repaired or passed over without losing records, one line each: a
    /// torn tail cut off, an unfinished checkpoint removed, a damaged checkpoint skipped.
    public var notes: [String]
}

extension MetadataLog: DurableMetadataLog {
    public func checkpoint(
        _ entries: [(key: [UInt8], value: KeyMetadata)],
        at boundary: MetadataCheckpointBoundary
    ) async throws(MetadataLogError) {
        try writeCheckpoint(entries, at: boundary)
    }

    public func shutDown() async throws(MetadataLogError) {
        try close()
    }
}
