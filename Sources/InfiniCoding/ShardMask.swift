/// A set of shard indices (0..<64), e.g. the chunks that arrived or the ones to rebuild.
public struct ShardMask: Hashable, Sendable, Sequence, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The empty set.
    public init() { self.rawValue = 0 }

    /// Indices `0..<count`.
    public init(first count: Int) {
        precondition(count >= 0 && count <= 64, "shard count out of range")
        self.rawValue = count == 64 ? .max : (1 << UInt64(count)) &- 1
    }

    public init(_ indices: some Sequence<Int>) {
        self.init()
        for index in indices { insert(index) }
    }

    public var count: Int { rawValue.nonzeroBitCount }
    public var isEmpty: Bool { rawValue == 0 }

    public func contains(_ index: Int) -> Bool {
        index >= 0 && index < 64 && rawValue & (1 << UInt64(index)) != 0
    }

    public mutating func insert(_ index: Int) {
        precondition(index >= 0 && index < 64, "shard index out of range")
        rawValue |= 1 << UInt64(index)
    }

    public mutating func remove(_ index: Int) {
        precondition(index >= 0 && index < 64, "shard index out of range")
        rawValue &= ~(1 << UInt64(index))
    }

    public func subtracting(_ other: ShardMask) -> ShardMask { ShardMask(rawValue: rawValue & ~other.rawValue) }
    public func intersection(_ other: ShardMask) -> ShardMask { ShardMask(rawValue: rawValue & other.rawValue) }
    public func union(_ other: ShardMask) -> ShardMask { ShardMask(rawValue: rawValue | other.rawValue) }

    /// The `count` lowest indices of the set (all of them if it has fewer).
    public func lowest(_ count: Int) -> ShardMask {
        var result = ShardMask()
        for index in self.prefix(count) { result.insert(index) }
        return result
    }

    /// Iterates indices in ascending order.
    public struct Iterator: IteratorProtocol {
        var remaining: UInt64
        public mutating func next() -> Int? {
            guard remaining != 0 else { return nil }
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            return index
        }
    }

    public func makeIterator() -> Iterator { Iterator(remaining: rawValue) }

    public var description: String { "[" + self.map(String.init).joined(separator: ",") + "]" }
}
