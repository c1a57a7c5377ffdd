public import InfiniCoding

/// What the proxy keeps about the committed version of one key: the version's descriptor, the
/// node holding each of its shards, and its expiry deadline.
public struct KeyMetadata: Hashable, Sendable {
    public let descriptor: ObjectDescriptor
    /// The node index holding each shard, one per shard of the descriptor's geometry.
    public let placement: [Int]
    /// When the key expires, in Unix milliseconds; nil if it does not.
    public var expiresAt: Int64?

    /// - Precondition: one placement per shard, each a node index in `0...UInt32.max`.
    public init(descriptor: ObjectDescriptor, placement: [Int], expiresAt: Int64? = nil) {
        precondition(placement.count == descriptor.geometry.totalShards, "one node index per shard")
        precondition(placement.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) }, "node index out of range")
        self.descriptor = descriptor
        self.placement = placement
        self.expiresAt = expiresAt
    }

    public var version: UInt64 { descriptor.version }
}
