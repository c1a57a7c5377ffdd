public import InfiniCoding
public import NIOCore

/// Stores values erasure-coded over memory nodes: the proxy's data path.
///
/// SET codes the value stripe by stripe and stores each stripe's `d + p` chunks on `d + p`
/// distinct nodes in parallel; the new version becomes visible at one commit point, after all
/// its chunks are stored, so readers see either the old or the new value. GET pins the version
/// it found, asks all `d + p` nodes for each stripe, decodes from the first `d` valid chunks
/// and drops the rest. Values below ``smallObjectThreshold`` are replicated on `1 + p` nodes.
///
/// TTLs live in the metadata beside each version. An expired key is invisible at once: every
/// access checks the deadline and removes the key; ``removeExpiredKeys(maximumRounds:)`` removes
/// the ones nobody asks for.
public actor ObjectStore {
    public struct Configuration: Sendable {
        public var geometry: ErasureGeometry
        public var smallObjectThreshold: Int
        public var maximumShardLength: Int
        public var compression: CompressionPolicy

        public init(
            geometry: ErasureGeometry,
            smallObjectThreshold: Int = 4096,
            maximumShardLength: Int = ObjectEncoder.defaultMaximumShardLength,
            compression: CompressionPolicy = .default
        ) {
            self.geometry = geometry
            self.smallObjectThreshold = smallObjectThreshold
            self.maximumShardLength = maximumShardLength
            self.compression = compression
        }
    }

    /// What the proxy knows about the committed version of a key.
    struct Entry: Sendable {
        var descriptor: ObjectDescriptor
        /// The node index (into `nodes`) that holds each shard.
        var placement: [Int]
        /// When the key expires, in Unix milliseconds; nil if it does not.
        var expiresAt: Int64?
    }

    /// When a write may happen, by whether the key exists (SET's NX and XX).
    public enum WriteCondition: Sendable {
        case always
        case ifAbsent
        case ifPresent

        func allows(exists: Bool) -> Bool {
            switch self {
            case .always: true
            case .ifAbsent: !exists
            case .ifPresent: exists
            }
        }
    }

    /// What a write does to the key's TTL.
    public enum ExpiryUpdate: Sendable, Equatable {
        /// Removes any TTL (a plain SET, GETEX PERSIST).
        case clear
        /// Keeps the TTL the key has (KEEPTTL, APPEND, GETEX without options).
        case keep
        /// Expires the key at this Unix time in milliseconds; a time already past deletes it.
        case at(Int64)
    }

    /// Conditions on the current TTL for EXPIRE (Redis's NX, XX, GT, LT); a key without a TTL
    /// counts as expiring never.
    public struct ExpireCondition: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let ifNoTTL = ExpireCondition(rawValue: 1)
        public static let ifTTL = ExpireCondition(rawValue: 2)
        public static let ifGreater = ExpireCondition(rawValue: 4)
        public static let ifLess = ExpireCondition(rawValue: 8)

        func allows(current: Int64?, new: Int64) -> Bool {
            if contains(.ifNoTTL), current != nil { return false }
            if contains(.ifTTL), current == nil { return false }
            if contains(.ifGreater), current.map({ new <= $0 }) ?? true { return false }
            if contains(.ifLess), let current, new >= current { return false }
            return true
        }
    }

    /// A key's TTL as TTL and PTTL report it.
    public enum TimeToLive: Sendable, Equatable {
        case missing
        case persistent
        case expiresAt(Int64)
    }

    public let configuration: Configuration
    private let nodes: [any ChunkNode]
    private let collector: ChunkCollector
    private var encoder: ObjectEncoder
    private var keyspace = Keyspace()
    private var lastVersion: UInt64 = 0
    private let clock = UnixClock()
    /// Keys removed because their TTL passed, lazily or by the sweep (INFO's `expired_keys`).
    public private(set) var expiredKeyCount = 0
    /// Reads that found their key (INFO's `keyspace_hits`).
    public private(set) var hitCount = 0
    /// Reads that did not (INFO's `keyspace_misses`).
    public private(set) var missCount = 0

    /// - Precondition: at least `d + p` nodes, so every chunk of an object is on its own node.
    public init(configuration: Configuration, nodes: [any ChunkNode]) {
        precondition(nodes.count >= configuration.geometry.totalShards, "fewer nodes than chunks per object")
        self.configuration = configuration
        self.nodes = nodes
        self.collector = ChunkCollector(nodes: nodes)
        self.encoder = ObjectEncoder(maximumShardLength: configuration.maximumShardLength, compression: configuration.compression)
    }

    /// Counters for INFO, read in one step.
    public struct Statistics: Sendable {
        public var keys: Int
        public var volatileKeys: Int
        public var valueBytes: Int
        public var expiredKeys: Int
        public var hits: Int
        public var misses: Int
    }

    public var statistics: Statistics {
        Statistics(
            keys: keyspace.count,
            volatileKeys: keyspace.volatileCount,
            valueBytes: keyspace.valueBytes,
            expiredKeys: expiredKeyCount,
            hits: hitCount,
            misses: missCount
        )
    }

    /// The number of memory nodes.
    public nonisolated var nodeCount: Int { nodes.count }

    /// Keys in the metadata, including expired ones the sweep has not reached yet (like DBSIZE).
    public var count: Int { keyspace.count }

    /// Keys with a TTL.
    public var volatileCount: Int { keyspace.volatileCount }

    /// The current Unix time in milliseconds, as expiry deadlines are measured.
    public nonisolated func now() -> Int64 { clock.now() }

    public func contains(_ key: ByteBuffer) -> Bool { liveEntry(key) != nil }

    public func length(of key: ByteBuffer) -> Int? { liveEntry(key)?.descriptor.length }

    /// Every key that has not expired.
    public func keys() -> [ByteBuffer] {
        let now = clock.now()
        return keyspace.keys.filter { key in keyspace[key]?.expiresAt.map { $0 > now } ?? true }
    }

    /// Up to `count` keys in insertion order from `cursor` on, and the cursor to continue from
    /// (0 at the end). Every key present for a whole scan is returned exactly once.
    public func scan(from cursor: UInt64, count: Int) -> (keys: [ByteBuffer], next: UInt64) {
        let page = keyspace.scan(from: cursor, count: count)
        return (page.keys.filter { liveEntry($0) != nil }, page.next)
    }

    /// The key's TTL.
    public func timeToLive(of key: ByteBuffer) -> TimeToLive {
        guard let entry = liveEntry(key) else { return .missing }
        return entry.expiresAt.map { .expiresAt($0) } ?? .persistent
    }

    /// Stores `value` under `key` as a new version and makes it visible once every chunk is
    /// stored, if `condition` holds both before the chunks are sent and at the commit point.
    ///
    /// - Returns: Whether the value was written (a deadline already past counts as written:
    ///   the key is deleted, as Redis does).
    @discardableResult
    public func set(
        _ key: ByteBuffer,
        value: ByteBuffer,
        condition: WriteCondition = .always,
        expiry: ExpiryUpdate = .clear
    ) async throws -> Bool {
        guard condition.allows(exists: liveEntry(key) != nil) else { return false }
        if case .at(let deadline) = expiry, deadline <= clock.now() {
            delete(key)
            return true
        }
        var entry = try await storeChunks(of: key, value: value)
        let current = liveEntry(key)
        guard condition.allows(exists: current != nil) else {
            discard(entry)
            return false
        }
        switch expiry {
        case .clear: entry.expiresAt = nil
        case .keep: entry.expiresAt = current?.expiresAt
        case .at(let deadline): entry.expiresAt = deadline
        }
        if let previous = keyspace.insert(entry, for: key) { discard(previous) }
        return true
    }

    /// Stores several values as one step (MSET): the chunks of all of them are stored in
    /// parallel, and every new version becomes visible at one commit point, so a reader sees all
    /// of them or none. A key given twice ends with its last value, as in Redis.
    public func setAll(_ pairs: [(key: ByteBuffer, value: ByteBuffer)]) async throws {
        let entries = try await withThrowingTaskGroup(of: (Int, Entry).self) { group in
            for (index, pair) in pairs.enumerated() {
                group.addTask { (index, try await self.storeChunks(of: pair.key, value: pair.value)) }
            }
            var entries = [Entry?](repeating: nil, count: pairs.count)
            do {
                for try await (index, entry) in group { entries[index] = entry }
            } catch {
                // No version becomes visible; every one stored so far is freed.
                for entry in entries { if let entry { discard(entry) } }
                while let result = await group.nextResult() {
                    if case .success((_, let entry)) = result { discard(entry) }
                }
                throw error
            }
            return entries.compactMap { $0 }
        }
        for (pair, entry) in zip(pairs, entries) {
            if let previous = keyspace.insert(entry, for: pair.key) { discard(previous) }
        }
    }

    /// Codes `value` stripe by stripe onto the nodes under a new version; nothing is visible yet.
    private func storeChunks(of key: ByteBuffer, value: ByteBuffer) async throws -> Entry {
        lastVersion += 1
        let version = lastVersion
        let geometry =
            value.readableBytes < configuration.smallObjectThreshold
            ? try ErasureGeometry(dataShards: 1, parityShards: configuration.geometry.parityShards)
            : configuration.geometry
        let placement = (0..<geometry.totalShards).map { (Int(version) + $0) % nodes.count }
        let descriptor = encoder.descriptor(
            keyHash: KeyHash.of(key.readableBytesView),
            version: version,
            length: value.readableBytes,
            geometry: geometry
        )
        let entry = Entry(descriptor: descriptor, placement: placement)
        do {
            for stripe in 0..<descriptor.stripeCount {
                let range = descriptor.byteRange(ofStripe: stripe)
                // Encoding and copying the chunks out happen before the first suspension, so the
                // actor's one encoder is never shared between two writes.
                var chunks = [ByteBuffer]()
                encoder.encodeStripe(stripe, of: descriptor, bytes: value.readableBytesSpan.extracting(range))
                for shard in 0..<geometry.totalShards {
                    chunks.append(encoder.withChunk(shard) { header, payload in Self.chunkBytes(header, payload) })
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (shard, bytes) in chunks.enumerated() {
                        let node = nodes[placement[shard]]
                        let id = ChunkID(version: version, stripe: stripe, shard: shard)
                        group.addTask { try await node.store(id, bytes: bytes) }
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            // Chunks of stripes already stored would otherwise stay on the nodes for good.
            discard(entry)
            throw error
        }
        return entry
    }

    /// The committed value of `key`, or nil if there is none.
    public func get(_ key: ByteBuffer) async throws -> ByteBuffer? {
        guard let entry = lookup(key) else { return nil }
        return try await read(entry, range: 0..<entry.descriptor.length)
    }

    /// The committed values of several keys (MGET), all pinned at one moment and read in
    /// parallel; nil for a key that does not exist.
    public func getAll(_ keys: [ByteBuffer]) async throws -> [ByteBuffer?] {
        let entries = keys.map { lookup($0) }
        return try await withThrowingTaskGroup(of: (Int, ByteBuffer).self) { group in
            for (index, entry) in entries.enumerated() {
                guard let entry else { continue }
                group.addTask { (index, try await self.read(entry, range: 0..<entry.descriptor.length)) }
            }
            var values = [ByteBuffer?](repeating: nil, count: keys.count)
            for try await (index, value) in group { values[index] = value }
            return values
        }
    }

    /// The bytes of `key`'s value in `range` (clamped to the value), fetching and decoding only
    /// the stripes that overlap it; nil if the key does not exist.
    public func get(_ key: ByteBuffer, range: Range<Int>) async throws -> ByteBuffer? {
        guard let entry = lookup(key) else { return nil }
        return try await read(entry, range: range)
    }

    /// The value of `key`, which is then deleted unless a newer version was committed meanwhile.
    public func getAndDelete(_ key: ByteBuffer) async throws -> ByteBuffer? {
        guard let entry = lookup(key) else { return nil }
        let value = try await read(entry, range: 0..<entry.descriptor.length)
        if keyspace[key]?.descriptor.version == entry.descriptor.version { delete(key) }
        return value
    }

    /// The value of `key`, whose TTL is then changed by `expiry` (GETEX).
    public func getAndUpdateExpiry(_ key: ByteBuffer, expiry: ExpiryUpdate) async throws -> ByteBuffer? {
        guard let entry = lookup(key) else { return nil }
        let value = try await read(entry, range: 0..<entry.descriptor.length)
        switch expiry {
        case .keep: break
        case .clear: keyspace.setExpiry(nil, for: key)
        case .at(let deadline) where deadline <= clock.now(): delete(key)
        case .at(let deadline): keyspace.setExpiry(deadline, for: key)
        }
        return value
    }

    /// Sets (`.at`) or removes (`.clear`) the TTL of an existing key, if `condition` holds
    /// (EXPIRE, PERSIST); a deadline already past deletes the key.
    ///
    /// - Returns: Whether the key existed, the condition held, and for `.clear`, a TTL was removed.
    public func updateExpiry(of key: ByteBuffer, to expiry: ExpiryUpdate, condition: ExpireCondition = []) -> Bool {
        guard let entry = liveEntry(key) else { return false }
        switch expiry {
        case .keep:
            return true
        case .clear:
            guard entry.expiresAt != nil else { return false }
            keyspace.setExpiry(nil, for: key)
        case .at(let deadline):
            guard condition.allows(current: entry.expiresAt, new: deadline) else { return false }
            if deadline <= clock.now() { delete(key) } else { keyspace.setExpiry(deadline, for: key) }
        }
        return true
    }

    /// One cycle of the background sweep, sampled like Redis's active expire: 20 random keys
    /// with a TTL per round, another round while more than a tenth of a sample had expired,
    /// at most `maximumRounds` rounds so one cycle never holds the actor for long.
    ///
    /// - Returns: How many keys it removed.
    @discardableResult
    public func removeExpiredKeys(maximumRounds: Int = 16) -> Int {
        let now = clock.now()
        var removed = 0
        for _ in 0..<maximumRounds {
            let sample = keyspace.sampleVolatileKeys(20)
            var expired = 0
            for key in sample {
                guard let deadline = keyspace[key]?.expiresAt, deadline <= now else { continue }
                removeExpired(key)
                expired += 1
            }
            removed += expired
            guard expired * 10 > sample.count else { break }
        }
        return removed
    }

    /// The entry of `key` unless its TTL has passed, in which case the key is removed now.
    private func liveEntry(_ key: ByteBuffer) -> Entry? {
        guard let entry = keyspace[key] else { return nil }
        if let deadline = entry.expiresAt, deadline <= clock.now() {
            removeExpired(key)
            return nil
        }
        return entry
    }

    /// ``liveEntry(_:)`` for a read, counted as a hit or a miss.
    private func lookup(_ key: ByteBuffer) -> Entry? {
        let entry = liveEntry(key)
        if entry == nil { missCount += 1 } else { hitCount += 1 }
        return entry
    }

    private func removeExpired(_ key: ByteBuffer) {
        guard let entry = keyspace.remove(key) else { return }
        expiredKeyCount += 1
        discard(entry)
    }

    /// Decodes the stripes of `entry` that overlap `range` and returns the bytes in it.
    private func read(_ entry: Entry, range: Range<Int>) async throws -> ByteBuffer {
        let descriptor = entry.descriptor
        let wanted = range.clamped(to: 0..<descriptor.length)
        var output = ByteBufferAllocator().buffer(capacity: wanted.count)
        var decoder = ObjectDecoder()
        for stripe in descriptor.stripes(overlapping: wanted) {
            let stripeRange = descriptor.byteRange(ofStripe: stripe)
            let part = wanted.clamped(to: stripeRange)
            let offset = part.lowerBound - stripeRange.lowerBound
            decoder.beginStripe(stripe, of: descriptor)
            for (chunk, validated) in try await firstChunks(of: entry, stripe: stripe) {
                try decoder.addChunk(chunk.readableBytesSpan, validated: validated)
            }
            try decoder.finishStripe { bytes in
                bytes.withUnsafeBytes { raw in
                    _ = output.writeBytes(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + part.count)]))
                }
            }
        }
        return output
    }

    /// Asks every node holding a chunk of the stripe and returns the first `d` valid chunks to
    /// arrive; the other requests are cancelled and their answers dropped. A node that fails or
    /// sends a bad chunk costs nothing while `d` good ones remain.
    private func firstChunks(of entry: Entry, stripe: Int) async throws -> [(ByteBuffer, ValidatedChunk)] {
        let descriptor = entry.descriptor
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            for (shard, nodeIndex) in entry.placement.enumerated() {
                let node = nodes[nodeIndex]
                let id = ChunkID(version: descriptor.version, stripe: stripe, shard: shard)
                group.addTask { try? await node.fetch(id) }
            }
            var accepted = [(ByteBuffer, ValidatedChunk)]()
            for try await chunk in group {
                guard let chunk,
                    let validated = try? ObjectDecoder.validate(chunk.readableBytesSpan, ofStripe: stripe, of: descriptor)
                else { continue }
                accepted.append((chunk, validated))
                if accepted.count == descriptor.geometry.dataShards {
                    group.cancelAll()
                    break
                }
            }
            return accepted
        }
    }

    /// Removes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: ByteBuffer) -> Bool {
        guard liveEntry(key) != nil, let entry = keyspace.remove(key) else { return false }
        discard(entry)
        return true
    }

    /// Removes every key.
    public func removeAll() {
        for entry in keyspace.removeAll() { discard(entry) }
    }

    /// Queues a superseded or deleted version's chunks to be freed on their nodes.
    private func discard(_ entry: Entry) {
        let descriptor = entry.descriptor
        collector.collect(
            entry.placement.enumerated().lazy.flatMap { shard, nodeIndex in
                (0..<descriptor.stripeCount).lazy.map { stripe in
                    (nodeIndex: nodeIndex, chunk: ChunkID(version: descriptor.version, stripe: stripe, shard: shard))
                }
            }
        )
    }

    /// Frees discarded chunks on their nodes in the background, until cancelled.
    public nonisolated func runGarbageCollector() async {
        await collector.run()
    }

    /// Frees every discarded chunk now.
    public nonisolated func collectGarbage() async {
        await collector.drain()
    }

    private static func chunkBytes(_ header: ChunkHeader, _ payload: RawSpan) -> ByteBuffer {
        var bytes = ByteBufferAllocator().buffer(capacity: ChunkHeader.size + payload.byteCount)
        header.withEncodedBytes { span in span.withUnsafeBytes { _ = bytes.writeBytes($0) } }
        payload.withUnsafeBytes { _ = bytes.writeBytes($0) }
        return bytes
    }
}
