import InfiniCoding

/// One change to the proxy's metadata, as the log stores it.
///
/// Replaying records in log order rebuilds the metadata. Removals and expiry changes name the
/// version they apply to and do nothing unless it is the key's current one, so replaying a
/// record onto a state that already contains it changes nothing; this is what lets a checkpoint
/// be taken while appends continue (see ``MetadataLog``).
///
/// Encoding (little-endian): format version `1` (u8), kind (u8), then by kind:
///
/// | kind | fields |
/// |---|---|
/// | 1 commit | key, metadata |
/// | 2 remove | key, version u64 |
/// | 3 expiry | key, version u64, expiry |
/// | 4 removeAll | nothing |
/// | 5 reserveVersions | version u64 |
///
/// A key is its length (u32) and bytes. Metadata is version u64, key hash u64, object length
/// u64, stripe length u32, data shards u8, parity shards u8, flags u8 (bit 0: has an expiry),
/// the expiry deadline i64 if flagged, and one node index (u32) per shard. An expiry alone is a
/// flag byte (0 or 1) and the deadline i64 if 1.
public enum MetadataRecord: Hashable, Sendable {
    /// `key`'s new committed version.
    case commit(key: [UInt8], entry: KeyMetadata)
    /// Removes `key` (DEL, or its TTL passed) if `version` is its current version.
    case remove(key: [UInt8], version: UInt64)
    /// Sets or clears (nil) the expiry of `key` (EXPIRE, PERSIST) if `version` is its current
    /// version.
    case expiry(key: [UInt8], version: UInt64, expiresAt: Int64?)
    /// Removes every key (FLUSHALL).
    case removeAll
    /// Versions up to `through` may have been handed out, committed or not; recovery reports a
    /// highest version at least this high. The proxy allocates versions before it commits them
    /// (chunks are stored under a version first), so logging a reservation ahead of use keeps a
    /// version from being reused after a restart without a log write per allocation.
    case reserveVersions(through: UInt64)

    /// The largest key this encoding accepts, bounding what a damaged length can make recovery
    /// allocate.
    public static let maximumKeyLength = 16 << 20
    /// The longest encoded record: a maximal key plus metadata for 64 shards.
    public static let maximumEncodedLength = maximumKeyLength + 512

    static let formatVersion: UInt8 = 1

    private enum Kind: UInt8 {
        case commit = 1
        case remove = 2
        case expiry = 3
        case removeAll = 4
        case reserveVersions = 5
    }

    /// The record's bytes in the format above.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        encode(into: &writer)
        return writer.bytes
    }

    /// Decodes one record that fills `bytes` exactly.
    ///
    /// - Throws: ``MetadataLogError/Code/invalidRecord`` for anything else: bytes missing or left
    ///   over, an unknown format or kind, or a value out of range.
    public init(decoding bytes: ArraySlice<UInt8>) throws(MetadataLogError) {
        var reader = ByteReader(bytes)
        let format = try reader.read(UInt8.self)
        guard format == Self.formatVersion else {
            throw MetadataLogError(.invalidRecord, "unknown record format \(format)")
        }
        let rawKind = try reader.read(UInt8.self)
        guard let kind = Kind(rawValue: rawKind) else {
            throw MetadataLogError(.invalidRecord, "unknown record kind \(rawKind)")
        }
        switch kind {
        case .commit:
            self = .commit(key: try Self.readKey(&reader), entry: try Self.readMetadata(&reader))
        case .remove:
            self = .remove(key: try Self.readKey(&reader), version: try reader.read(UInt64.self))
        case .expiry:
            self = .expiry(
                key: try Self.readKey(&reader),
                version: try reader.read(UInt64.self),
                expiresAt: try Self.readExpiry(&reader)
            )
        case .removeAll:
            self = .removeAll
        case .reserveVersions:
            self = .reserveVersions(through: try reader.read(UInt64.self))
        }
        try reader.expectEnd()
    }

    /// The key the record names, if any.
    var key: [UInt8]? {
        switch self {
        case .commit(let key, _), .remove(let key, _), .expiry(let key, _, _): key
        case .removeAll, .reserveVersions: nil
        }
    }

    /// The version the record names, if any.
    var version: UInt64? {
        switch self {
        case .commit(_, let entry): entry.version
        case .remove(_, let version), .expiry(_, let version, _), .reserveVersions(let version): version
        case .removeAll: nil
        }
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(Self.formatVersion)
        switch self {
        case .commit(let key, let entry):
            writer.write(Kind.commit.rawValue)
            Self.writeKey(key, into: &writer)
            Self.writeMetadata(entry, into: &writer)
        case .remove(let key, let version):
            writer.write(Kind.remove.rawValue)
            Self.writeKey(key, into: &writer)
            writer.write(version)
        case .expiry(let key, let version, let expiresAt):
            writer.write(Kind.expiry.rawValue)
            Self.writeKey(key, into: &writer)
            writer.write(version)
            writer.write(UInt8(expiresAt == nil ? 0 : 1))
            if let expiresAt { writer.write(expiresAt) }
        case .removeAll:
            writer.write(Kind.removeAll.rawValue)
        case .reserveVersions(let version):
            writer.write(Kind.reserveVersions.rawValue)
            writer.write(version)
        }
    }

    private static func writeKey(_ key: [UInt8], into writer: inout ByteWriter) {
        writer.write(UInt32(truncatingIfNeeded: key.count))
        writer.write(key)
    }

    private static func readKey(_ reader: inout ByteReader) throws(MetadataLogError) -> [UInt8] {
        let length = Int(try reader.read(UInt32.self))
        guard length <= maximumKeyLength else {
            throw MetadataLogError(.invalidRecord, "key length \(length) exceeds the maximum \(maximumKeyLength)")
        }
        return try reader.readBytes(length)
    }

    private static func readExpiry(_ reader: inout ByteReader) throws(MetadataLogError) -> Int64? {
        switch try reader.read(UInt8.self) {
        case 0: return nil
        case 1: return try reader.read(Int64.self)
        case let flag: throw MetadataLogError(.invalidRecord, "invalid expiry flag \(flag)")
        }
    }

    private static func writeMetadata(_ entry: KeyMetadata, into writer: inout ByteWriter) {
        let descriptor = entry.descriptor
        writer.write(descriptor.version)
        writer.write(descriptor.keyHash)
        writer.write(UInt64(descriptor.length))
        writer.write(UInt32(descriptor.stripeLength))
        writer.write(UInt8(descriptor.geometry.dataShards))
        writer.write(UInt8(descriptor.geometry.parityShards))
        writer.write(UInt8(entry.expiresAt == nil ? 0 : 1))
        if let expiresAt = entry.expiresAt { writer.write(expiresAt) }
        for node in entry.placement { writer.write(UInt32(node)) }
    }

    private static func readMetadata(_ reader: inout ByteReader) throws(MetadataLogError) -> KeyMetadata {
        let version = try reader.read(UInt64.self)
        let keyHash = try reader.read(UInt64.self)
        let length = try reader.read(UInt64.self)
        let stripeLength = try reader.read(UInt32.self)
        let dataShards = try reader.read(UInt8.self)
        let parityShards = try reader.read(UInt8.self)
        let expiresAt = try readExpiry(&reader)
        guard length <= UInt64(Int.max) else {
            throw MetadataLogError(.invalidRecord, "object length \(length) out of range")
        }
        guard stripeLength > 0 else {
            throw MetadataLogError(.invalidRecord, "stripe length 0")
        }
        let geometry: ErasureGeometry
        do throws(CodingError) {
            geometry = try ErasureGeometry(dataShards: Int(dataShards), parityShards: Int(parityShards))
        } catch {
            throw MetadataLogError(.invalidRecord, error.message)
        }
        var placement = [Int]()
        placement.reserveCapacity(geometry.totalShards)
        for _ in 0..<geometry.totalShards { placement.append(Int(try reader.read(UInt32.self))) }
        let descriptor = ObjectDescriptor(
            keyHash: keyHash,
            version: version,
            length: Int(length),
            geometry: geometry,
            stripeLength: Int(stripeLength)
        )
        return KeyMetadata(descriptor: descriptor, placement: placement, expiresAt: expiresAt)
    }
}
