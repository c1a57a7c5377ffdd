/// How an object is split: `dataShards` data chunks plus `parityShards` parity chunks, any
/// `dataShards` of which rebuild the object.
public struct ErasureGeometry: Hashable, Sendable, CustomStringConvertible {
    /// The most chunks one object may have; shard sets are tracked in a 64-bit ``ShardMask``.
    public static let maximumShards = 64

    public let dataShards: Int
    public let parityShards: Int

    /// - Throws: ``CodingError/Code/invalidGeometry`` unless `1 ≤ dataShards`, `0 ≤ parityShards`
    ///   and `dataShards + parityShards ≤ 64`.
    public init(dataShards: Int, parityShards: Int) throws(CodingError) {
        guard dataShards >= 1, parityShards >= 0, dataShards + parityShards <= Self.maximumShards else {
            throw CodingError(
                .invalidGeometry,
                "invalid erasure geometry \(dataShards)+\(parityShards): need at least 1 data shard, "
                    + "no negative parity, and at most \(Self.maximumShards) shards in all"
            )
        }
        self.dataShards = dataShards
        self.parityShards = parityShards
    }

    /// Parses the `D+P` notation used on the command line and in configuration, e.g. `10+2`.
    public init(_ text: String) throws(CodingError) {
        let parts = text.split(separator: "+", omittingEmptySubsequences: false)
        guard parts.count == 2, let data = Int(parts[0]), let parity = Int(parts[1]) else {
            throw CodingError(.invalidGeometry, "invalid erasure geometry '\(text)': expected D+P, e.g. 10+2")
        }
        try self.init(dataShards: data, parityShards: parity)
    }

    public var totalShards: Int { dataShards + parityShards }

    /// The object bytes one stripe holds when each shard holds at most `maximumShardLength`.
    public func stripeLength(maximumShardLength: Int) -> Int { dataShards * maximumShardLength }

    /// Every shard index of this geometry.
    public var allShards: ShardMask { ShardMask(first: totalShards) }

    public var description: String { "\(dataShards)+\(parityShards)" }
}
