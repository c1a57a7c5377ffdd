/// Owned, 64-byte-aligned storage for the shards of one stripe, laid out back to back so the
/// data shards form one contiguous region.
///
/// A buffer is reused from stripe to stripe: ``resize(shardCount:shardLength:)`` only allocates when a stripe
/// needs more room than any before it, so the coding hot path does not touch the heap after
/// warm-up. With a shard length that is a multiple of ``alignment`` every shard starts aligned.
public struct ShardBuffer: ~Copyable {
    /// The alignment of the storage and the granularity shard lengths are padded to; ISA-L's
    /// AVX-512 kernels work on 64-byte vectors (see BENCHMARKS.md for 32 vs 64).
    public static let alignment = 64

    private var storage: UnsafeMutableRawPointer
    private var capacity: Int

    /// How many shards the buffer holds.
    public private(set) var shardCount: Int
    /// The current length of every shard in bytes.
    public private(set) var shardLength: Int

    public init(shardCount: Int, shardLength: Int = 0) {
        precondition(shardCount >= 1 && shardCount <= ErasureGeometry.maximumShards, "shard count out of range")
        precondition(shardLength >= 0, "negative shard length")
        self.shardCount = shardCount
        self.shardLength = shardLength
        self.capacity = shardCount * shardLength
        self.storage = .allocate(byteCount: max(capacity, Self.alignment), alignment: Self.alignment)
    }

    deinit {
        storage.deallocate()
    }

    /// Rounds `length` up to a multiple of ``alignment``.
    public static func paddedLength(_ length: Int) -> Int {
        (length + alignment - 1) / alignment * alignment
    }

    /// Sets the number of shards and the length of each. The contents are unspecified afterwards.
    public mutating func resize(shardCount: Int? = nil, shardLength: Int) {
        let shardCount = shardCount ?? self.shardCount
        precondition(shardCount >= 1 && shardCount <= ErasureGeometry.maximumShards, "shard count out of range")
        precondition(shardLength >= 0, "negative shard length")
        let needed = shardCount * shardLength
        if needed > capacity {
            storage.deallocate()
            storage = .allocate(byteCount: needed, alignment: Self.alignment)
            capacity = needed
        }
        self.shardCount = shardCount
        self.shardLength = shardLength
    }

    /// Calls `body` with the bytes of shard `index`.
    public func withShard<Result: ~Copyable, Failure: Error>(
        _ index: Int,
        _ body: (RawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let bytes = UnsafeRawBufferPointer(start: shardAddress(index), count: shardLength)
        return try body(bytes.bytes)
    }

    /// Calls `body` with the writable bytes of shard `index`.
    public mutating func withMutableShard<Result: ~Copyable, Failure: Error>(
        _ index: Int,
        _ body: (inout MutableRawSpan) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let bytes = UnsafeMutableRawBufferPointer(start: shardAddress(index), count: shardLength)
        var span = bytes.mutableBytes
        return try body(&span)
    }

    /// Copies `bytes` into shard `index` and zero-fills the rest of the shard.
    public mutating func copyIntoShard(_ index: Int, from bytes: RawSpan) {
        precondition(bytes.byteCount <= shardLength, "bytes longer than the shard")
        let destination = shardAddress(index)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { destination.copyMemory(from: base, byteCount: source.count) }
        }
        (destination + bytes.byteCount).initializeMemory(as: UInt8.self, repeating: 0, count: shardLength - bytes.byteCount)
    }

    /// The address of shard `index`; valid until the next ``resize(shardCount:shardLength:)``.
    func shardAddress(_ index: Int) -> UnsafeMutableRawPointer {
        precondition(index >= 0 && index < shardCount, "shard index out of range")
        return storage + index * shardLength
    }

    /// The first `count` shards as one contiguous region.
    func leadingShards(_ count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(count >= 0 && count <= shardCount, "shard count out of range")
        return UnsafeMutableRawBufferPointer(start: storage, count: count * shardLength)
    }
}
