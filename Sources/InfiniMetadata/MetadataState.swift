/// The metadata a log describes: the committed version of every key, and the highest version any
/// record has named, so a restarted proxy hands out only higher ones.
public struct MetadataState: Hashable, Sendable {
    public private(set) var entries: [[UInt8]: KeyMetadata] = [:]
    /// The highest version named by any record applied, including removed keys' versions and
    /// reservations.
    public private(set) var highestVersion: UInt64 = 0

    public init() {}

    /// Makes room for `count` keys.
    mutating func reserveCapacity(_ count: Int) {
        entries.reserveCapacity(count)
    }

    /// Applies one record, as replay does; the rules are those of ``MetadataRecord``.
    public mutating func apply(_ record: MetadataRecord) {
        if let version = record.version { highestVersion = max(highestVersion, version) }
        switch record {
        case .commit(let key, let entry):
            entries[key] = entry
        case .remove(let key, let version):
            if entries[key]?.version == version { entries[key] = nil }
        case .expiry(let key, let version, let expiresAt):
            if entries[key]?.version == version { entries[key]?.expiresAt = expiresAt }
        case .removeAll:
            entries.removeAll()
        case .reserveVersions:
            break
        }
    }
}
