public import InfiniCOS
public import InfiniCoding
public import InfiniMetadata
import InfiniNodeProtocol
public import NIOCore
import NIOPosix

/// Stores values erasure-coded over memory nodes: the proxy's data path.
///
/// SET codes the value stripe by stripe and stores each stripe's `d + p` chunks on `d + p`
/// distinct nodes in parallel; the new version becomes visible at one commit point, after all
/// its chunks are stored, so readers see either the old or the new value. GET pins the version
/// it found, asks the nodes of each stripe's `d` data chunks, and the parity chunks' nodes when
/// one of those fails or is late (see ``HedgeDelay``), decodes from the first `d` valid chunks
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
        public var durability: Durability
        /// Bytes of hot small values the proxy keeps to answer reads without the nodes; 0: none.
        public var readCacheCapacity: Int
        /// How long a write may wait for the COS to catch up when the proxy keeps as many
        /// unpersisted bytes as its ``PersistenceTracker`` allows.
        public var backlogTimeout: Duration
        /// How often, at most, the nodes are asked to write what they hold back, once the proxy
        /// keeps more than half the unpersisted bytes its ``PersistenceTracker`` allows.
        public var flushRequestInterval: Duration

        /// The default read cache: small next to a proxy's memory, large enough for a working
        /// set of tens of thousands of small values.
        public static let defaultReadCacheCapacity = 64 << 20
        /// Shorter values are replicated rather than erasure-coded; see BENCHMARKS.md for the
        /// measurement behind it.
        public static let defaultSmallObjectThreshold = 4096
        /// The read cache's capacity over the longest value it keeps (so 1 MiB with the default
        /// capacity): no one value pushes out much of the working set.
        public static let readCacheCapacityPerLargestValue = 64

        public init(
            geometry: ErasureGeometry,
            smallObjectThreshold: Int = defaultSmallObjectThreshold,
            maximumShardLength: Int = ObjectEncoder.defaultMaximumShardLength,
            compression: CompressionPolicy = .default,
            durability: Durability = .memory,
            readCacheCapacity: Int = defaultReadCacheCapacity,
            backlogTimeout: Duration = .seconds(30),
            flushRequestInterval: Duration = .milliseconds(100)
        ) {
            self.geometry = geometry
            self.smallObjectThreshold = smallObjectThreshold
            self.maximumShardLength = maximumShardLength
            self.compression = compression
            self.durability = durability
            self.readCacheCapacity = readCacheCapacity
            self.backlogTimeout = backlogTimeout
            self.flushRequestInterval = flushRequestInterval
        }
    }

    /// When a write is acknowledged.
    public enum Durability: String, Sendable, CaseIterable {
        /// Once every chunk is in node memory; the nodes write them to the COS right after.
        case memory
        /// Once every chunk is in the COS as well.
        case cos
    }

    /// What the proxy knows about the committed version of a key: its descriptor, the node
    /// index (into `nodes`) holding each shard, and its TTL; the metadata log stores the same.
    typealias Entry = KeyMetadata

    /// When a write may happen: by whether the key exists (SET's NX and XX), or only while the
    /// key is as a read left it (a read-modify-write).
    public enum WriteCondition: Sendable, Equatable {
        case always
        case ifAbsent
        case ifPresent
        /// While the key's committed version is this one; nil: while the key does not exist.
        case ifVersion(UInt64?)

        /// Whether the write may happen to a key whose committed version is `current`.
        func allows(version current: UInt64?) -> Bool {
            switch self {
            case .always: true
            case .ifAbsent: current == nil
            case .ifPresent: current != nil
            case .ifVersion(let version): current == version
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
    private let storage: (any ObjectStorage)?
    private let persistence: PersistenceTracker?
    private let collector: ChunkCollector
    private let hedgeDelay = HedgeDelay()
    /// Where reads wait for their hedge delay.
    private let hedgeTimers: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    private var encoder: ObjectEncoder
    /// A reply reads a value spanning more stripes than this one stripe at a time as it is
    /// written, so it holds about this many stripes of memory: the one being sent and the next.
    static let streamedStripeCount = 2

    private var keyspace = Keyspace()
    private var readCache: ReadCache
    /// Versions being read, with how many reads each: their chunks stay until the last read ends.
    private var readers: [UInt64: Int] = [:]
    /// Keys a read-modify-write is updating, with the ones waiting for their turn.
    private var keysBeingUpdated: [ByteBuffer: [CheckedContinuation<Void, Never>]] = [:]
    /// Keys a plain SET is being stored for, with the plain SETs of them that arrived since.
    private var plainSetsWaiting: [ByteBuffer: [WaitingSet]] = [:]
    /// Per key, the APPENDs that joined the first one waiting for the key's next turn.
    private var appendsWaiting: [ByteBuffer: [WaitingAppend]] = [:]
    /// Versions superseded or deleted while being read, freed once their reads end.
    private var discardedWhileRead: [UInt64: Entry] = [:]
    private(set) var lastVersion: UInt64 = 0
    /// The highest version the previous run of the proxy may have used; 0 on a first start.
    private let recoveredHighestVersion: UInt64
    private var journal: MetadataJournal?
    private let clock = UnixClock()
    /// Keys removed because their TTL passed, lazily or by the sweep (INFO's `expired_keys`).
    public private(set) var expiredKeyCount = 0
    /// COS objects of chunks no version owned, deleted after a restart.
    private var orphanedChunkCount = 0
    private var rebuiltChunkCount = 0
    private var lastFlushRequest: ContinuousClock.Instant?
    private var flushRequestCount = 0
    /// Reads that found their key (INFO's `keyspace_hits`).
    public private(set) var hitCount = 0
    /// Reads that did not (INFO's `keyspace_misses`).
    public private(set) var missCount = 0

    /// - Parameters:
    ///   - storage: the COS the nodes write chunks through to; reads fall back to it when fewer
    ///     than `d` nodes answer, and freed chunks are deleted from it. Nil: node memory only.
    ///   - persistence: where the nodes' persisted notices arrive; needed with `storage`.
    ///   - metadata: the metadata log every change is written to, and the state recovered from
    ///     it at startup; nil keeps metadata in memory only.
    /// - Precondition: at least `d + p` nodes, so every chunk of an object is on its own node.
    public init(
        configuration: Configuration,
        nodes: [any ChunkNode],
        storage: (any ObjectStorage)? = nil,
        persistence: PersistenceTracker? = nil,
        metadata: (log: any DurableMetadataLog, recovered: MetadataState)? = nil
    ) {
        precondition(nodes.count >= configuration.geometry.totalShards, "fewer nodes than chunks per object")
        precondition((storage == nil) == (persistence == nil), "a COS and a persistence tracker go together")
        precondition(storage != nil || configuration.durability == .memory, "--durability cos needs a COS")
        self.configuration = configuration
        self.nodes = nodes
        self.storage = storage
        self.persistence = persistence
        self.collector = ChunkCollector(nodes: nodes, storage: storage, persistence: persistence)
        self.encoder = ObjectEncoder(maximumShardLength: configuration.maximumShardLength, compression: configuration.compression)
        self.readCache = ReadCache(
            capacity: configuration.readCacheCapacity,
            maximumValueLength: configuration.readCacheCapacity / Configuration.readCacheCapacityPerLargestValue)
        recoveredHighestVersion = metadata?.recovered.highestVersion ?? 0
        if let metadata {
            for (key, entry) in metadata.recovered.entries { keyspace.insert(entry, for: ByteBuffer(bytes: key)) }
            lastVersion = metadata.recovered.highestVersion
            journal = MetadataJournal(log: metadata.log, highestVersion: metadata.recovered.highestVersion)
        }
    }

    /// Counters for INFO, read in one step.
    public struct Statistics: Sendable {
        public var keys: Int
        public var volatileKeys: Int
        public var valueBytes: Int
        public var expiredKeys: Int
        public var hits: Int
        public var misses: Int
        /// Chunks in node memory not yet reported persisted, and their bytes the proxy keeps.
        public var unpersistedChunks: Int
        public var unpersistedBytes: Int
        /// Chunks of discarded versions not yet freed.
        public var garbageChunks: Int
        /// Chunks freed before their node had written them to the COS (within its write-behind).
        public var unwrittenChunks: Int
        /// Bytes in the read cache, and reads it answered.
        public var readCacheBytes: Int
        public var readCacheHits: Int
        /// COS objects of chunks no version owned, deleted after a restart.
        public var orphanedChunks: Int
        /// Memory-only chunks stored again on nodes that came back empty.
        public var rebuiltChunks: Int
        /// Times the nodes were asked to write what they held back, because the proxy kept
        /// more than half of ``PersistenceTracker/capacity`` in unpersisted chunks.
        public var flushRequests: Int
        /// Stripe reads that asked the spare nodes because the ones asked first were late.
        public var hedgedReads: Int
    }

    public var statistics: Statistics {
        Statistics(
            keys: keyspace.count,
            volatileKeys: keyspace.volatileCount,
            valueBytes: keyspace.valueBytes,
            expiredKeys: expiredKeyCount,
            hits: hitCount,
            misses: missCount,
            unpersistedChunks: persistence?.unpersistedCount ?? 0,
            unpersistedBytes: persistence?.unpersistedBytes ?? 0,
            garbageChunks: collector.backlog,
            unwrittenChunks: collector.unwrittenCount,
            readCacheBytes: readCache.bytes,
            readCacheHits: readCache.hits,
            orphanedChunks: orphanedChunkCount,
            rebuiltChunks: rebuiltChunkCount,
            flushRequests: flushRequestCount,
            hedgedReads: hedgeDelay.hedgeCount
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

    /// Stores `value` under `key` (which must not share storage with a connection's buffers) as a
    /// new version and makes it visible once every chunk is stored, if `condition` holds both
    /// before the chunks are sent and at the commit point.
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
        if condition == .always, expiry == .clear {
            try await absorbingSet(key, value: ValueBytes(value))
            return true
        }
        guard condition.allows(version: liveEntry(key)?.version) else { return false }
        if case .at(let deadline) = expiry, deadline <= clock.now() {
            try await delete(key)
            return true
        }
        return try await commit(try await storeChunks(of: key, value: ValueBytes(value)), for: key, condition: condition, expiry: expiry)
    }

    /// A plain SET of `key` (which must not share storage with a connection's buffers) to a value
    /// given in parts, as a large value arrives read by read: its parts are coded as they are,
    /// never copied into one buffer first.
    public func set(_ key: ByteBuffer, value: ValueBytes) async throws {
        try await absorbingSet(key, value: value)
    }

    /// A plain SET of `key`, stored at once unless a plain SET of the key is being stored. Then it
    /// waits with the others that arrive meanwhile, and when that one has committed, the first
    /// of them stores the last value for all: the earlier ones would be superseded at the same
    /// moment, never seen by any reader, as in ``setEach(_:)``. They share its outcome.
    private func absorbingSet(_ key: ByteBuffer, value: ValueBytes) async throws {
        var value = value
        var madeHere: [WaitingSet] = []
        if plainSetsWaiting[key] != nil {
            let turn = try await withCheckedThrowingContinuation { plainSetsWaiting[key, default: []].append(WaitingSet(value: value, turn: $0)) }
            guard case .storeFor(let waiting) = turn, let last = waiting.last else { return }
            value = last.value
            madeHere = Array(waiting.dropFirst())
        } else {
            plainSetsWaiting[key] = []
        }
        defer { handOverPlainSets(of: key) }
        do {
            _ = try await commit(try await storeChunks(of: key, value: value), for: key, condition: .always, expiry: .clear)
        } catch {
            for waiting in madeHere { waiting.turn.resume(throwing: error) }
            throw error
        }
        for waiting in madeHere { waiting.turn.resume(returning: .madeByAnother) }
    }

    /// Once a plain SET of `key` is done: the first of the plain SETs that waited stores them all.
    private func handOverPlainSets(of key: ByteBuffer) {
        guard let waiting = plainSetsWaiting[key], let first = waiting.first else {
            plainSetsWaiting[key] = nil
            return
        }
        plainSetsWaiting[key] = []
        first.turn.resume(returning: .storeFor(waiting))
    }

    /// A plain SET waiting for the one of its key being stored.
    private struct WaitingSet: Sendable {
        let value: ValueBytes
        let turn: CheckedContinuation<SetTurn, any Error>
    }

    /// What a waiting plain SET is told when the one before it is done.
    private enum SetTurn: Sendable {
        /// Another stored a later value for it.
        case madeByAnother
        /// It is the first of these, which it now stores (the last value) and answers.
        case storeFor([WaitingSet])
    }

    /// Commits the stored version `entry` of `key` with `expiry`, if `condition` still holds;
    /// otherwise frees it and returns false.
    private func commit(_ entry: Entry, for key: ByteBuffer, condition: WriteCondition, expiry: ExpiryUpdate) async throws -> Bool {
        var entry = entry
        let current = liveEntry(key)
        guard condition.allows(version: current?.version) else {
            discard(entry)
            return false
        }
        switch expiry {
        case .clear: entry.expiresAt = nil
        case .keep: entry.expiresAt = current?.expiresAt
        case .at(let deadline): entry.expiresAt = deadline
        }
        try await settle(try commit(entry, for: key))
        return true
    }

    /// SET with GET: stores `value` under `key` as ``set(_:value:condition:expiry:)`` does, and
    /// returns the value it replaced, read with `memory`. Nothing written between that read and
    /// the commit is lost: the value replaced is the one returned.
    public func getAndSet(
        _ key: ByteBuffer,
        value: ByteBuffer,
        condition: WriteCondition = .always,
        expiry: ExpiryUpdate = .clear,
        memory: ClientMemory? = nil
    ) async throws -> (previous: ValueBytes?, written: Bool) {
        try await updating(key) { key, entry in
            var previous: ValueBytes?
            if let entry { previous = try await pinnedRead(entry, of: key, range: 0..<entry.descriptor.length, memory: memory) }
            guard condition.allows(version: entry?.version) else { return .done((previous, false)) }
            let written = try await set(key, value: value, condition: .ifVersion(entry?.version), expiry: expiry)
            return written ? .done((previous, true)) : .overtaken
        }
    }

    /// APPEND: adds `suffix` to the value of `key` (an empty value if it does not exist), keeping
    /// its TTL. Appends to one key take turns, so none is lost; those that arrive while the key is
    /// being updated are made together in its next turn, as one new version.
    ///
    /// - Returns: The new length, or nil (and nothing written) if it would pass `maximumLength`.
    public func append(
        _ suffix: ByteBuffer, to key: ByteBuffer, maximumLength: Int, memory: ClientMemory? = nil
    ) async throws -> Int? {
        let key = ByteBuffer(bytes: key.readableBytesView)
        if appendsWaiting[key] != nil {
            return try await withCheckedThrowingContinuation { appendsWaiting[key]?.append((suffix, $0)) }
        }
        appendsWaiting[key] = []
        var joined: [WaitingAppend]?
        do {
            let lengths = try await updating(key) { key, old in
                if joined == nil { joined = appendsWaiting.removeValue(forKey: key) ?? [] }
                let suffixes = [suffix] + (joined ?? []).map(\.suffix)
                return try await append(suffixes, to: key, at: old, maximumLength: maximumLength, memory: memory)
            }
            for (waiting, length) in zip(joined ?? [], lengths.dropFirst()) { waiting.result.resume(returning: length) }
            return lengths[0]
        } catch {
            for waiting in joined ?? appendsWaiting.removeValue(forKey: key) ?? [] { waiting.result.resume(throwing: error) }
            throw error
        }
    }

    /// An APPEND made by the one ahead of it, with the continuation its new length goes to.
    private typealias WaitingAppend = (suffix: ByteBuffer, result: CheckedContinuation<Int?, any Error>)

    /// One try of APPENDs of `suffixes`, in order, to `key` at its committed version `old`: the
    /// new length after each, nil for one that would pass `maximumLength` (and is left out).
    ///
    /// The new version is coded stripe by stripe from the old one's stripes and the suffixes, so
    /// a long value is never held whole: the read holds two stripes of `memory`.
    private func append(
        _ suffixes: [ByteBuffer], to key: ByteBuffer, at old: Entry?, maximumLength: Int, memory: ClientMemory?
    ) async throws -> UpdateAttempt<[Int?]> {
        let oldLength = old?.descriptor.length ?? 0
        var length = oldLength
        var lengths: [Int?] = []
        var added = ByteBuffer()
        for var suffix in suffixes {
            guard length + suffix.readableBytes <= maximumLength else {
                lengths.append(nil)
                continue
            }
            length += suffix.readableBytes
            lengths.append(length)
            if suffixes.count == 1 { added = suffix } else { added.writeBuffer(&suffix) }
        }
        guard length > oldLength || (old == nil && lengths.contains { $0 != nil }) else { return .done(lengths) }
        guard let old else {
            let written = try await set(key, value: added, condition: .ifVersion(nil), expiry: .keep)
            return written ? .done(lengths) : .overtaken
        }
        pin(old)
        defer { unpin(old) }
        let hold = try await hold([(old, 0..<oldLength)], of: memory)
        // Each stripe is the old version's bytes as read and the suffixes' slice, in parts: the
        // encoder copies them in, so they are not joined first.
        let entry = try await storeVersion(of: key, length: length) { range in
            var bytes = ValueBytes(expectedLength: range.count)
            if range.lowerBound < oldLength {
                let oldBytes = try await read(old, of: key, range: range.lowerBound..<min(range.upperBound, oldLength), streaming: false)
                for part in oldBytes.parts { bytes.append(part) }
            }
            if range.upperBound > oldLength {
                let start = max(range.lowerBound, oldLength) - oldLength
                guard let piece = added.getSlice(at: added.readerIndex + start, length: range.upperBound - oldLength - start) else {
                    preconditionFailure("the new version's stripes end where the suffixes do")
                }
                bytes.append(piece)
            }
            return bytes
        }
        withExtendedLifetime(hold) {}
        let written = try await commit(entry, for: key, condition: .ifVersion(old.version), expiry: .keep)
        return written ? .done(lengths) : .overtaken
    }

    /// How one try of a read-modify-write ended.
    private enum UpdateAttempt<Outcome> {
        case done(Outcome)
        /// Another write of the key committed after the read: the update must read again.
        case overtaken
    }

    /// A read-modify-write of `key`: `attempt` is given the key (a copy it may store under) and
    /// its committed entry, reads, writes with the condition ``WriteCondition/ifVersion(_:)``,
    /// and is asked again while another write overtakes it. Updates of one key take turns, so
    /// they do not undo one another; only other writes of the key make one try again.
    private func updating<Outcome>(
        _ key: ByteBuffer,
        _ attempt: (ByteBuffer, Entry?) async throws -> UpdateAttempt<Outcome>
    ) async throws -> Outcome {
        let key = ByteBuffer(bytes: key.readableBytesView)
        await waitForTurn(updating: key)
        defer { endTurn(updating: key) }
        while true {
            if case .done(let outcome) = try await attempt(key, lookup(key)) { return outcome }
        }
    }

    private func waitForTurn(updating key: ByteBuffer) async {
        guard keysBeingUpdated[key] != nil else {
            keysBeingUpdated[key] = []
            return
        }
        await withCheckedContinuation { keysBeingUpdated[key, default: []].append($0) }
    }

    private func endTurn(updating key: ByteBuffer) {
        guard var waiting = keysBeingUpdated[key], !waiting.isEmpty else {
            keysBeingUpdated[key] = nil
            return
        }
        let next = waiting.removeFirst()
        keysBeingUpdated[key] = waiting
        next.resume()
    }

    /// A plain SET whose value is stored stripe by stripe as it arrives from the client, so the
    /// proxy holds a stripe or two of it at a time: ``beginSet(_:length:)``, then
    /// ``store(_:of:bytes:)`` for each of ``stripeLengths`` in order, then ``commit(_:)`` or, if
    /// anything failed, ``abandon(_:)``.
    public struct ArrivingWrite: Sendable {
        fileprivate let key: ByteBuffer
        fileprivate let entry: Entry

        /// The length of each stripe of the value, in order.
        public var stripeLengths: [Int] {
            (0..<entry.descriptor.stripeCount).map { entry.descriptor.byteRange(ofStripe: $0).count }
        }
    }

    /// Whether a plain SET of a value this long is better stored as it arrives: when it spans
    /// more stripes than a reply reads at once.
    public nonisolated func storesAsItArrives(length: Int) -> Bool {
        length > arrivingValueMemory(length: length)
    }

    /// The client memory a SET whose value of `length` bytes is stored as it arrives holds: the
    /// stripe being read and the one being stored.
    public nonisolated func arrivingValueMemory(length: Int) -> Int {
        let stripeLength = configuration.geometry.stripeLength(maximumShardLength: configuration.maximumShardLength)
        return Self.streamedLength(of: length, stripeLength: stripeLength)
    }

    /// What of a value of `length` bytes is in the proxy's memory at once when it is streamed
    /// through in stripes of `stripeLength`.
    static func streamedLength(of length: Int, stripeLength: Int) -> Int {
        min(length, streamedStripeCount * stripeLength)
    }

    /// Starts a SET of `key` (which must not share storage with a connection's buffers) to a
    /// value of `length` bytes still to arrive; nothing is visible until ``commit(_:)``.
    public func beginSet(_ key: ByteBuffer, length: Int) throws -> ArrivingWrite {
        ArrivingWrite(key: key, entry: try newVersion(of: key, length: length))
    }

    /// Codes and stores stripe `stripe` of `write`, whose bytes are all of `bytes`.
    public func store(_ stripe: Int, of write: ArrivingWrite, bytes: ByteBuffer) async throws {
        try await storeStripe(stripe, of: write.entry, bytes: ValueBytes(bytes))
    }

    /// Makes `write`, every stripe of which is stored, the committed value of its key, without
    /// a TTL, as SET does. If that fails, its chunks are freed.
    public func commit(_ write: ArrivingWrite) async throws {
        do {
            try await waitUntilDurable(write.entry)
        } catch {
            discard(write.entry)
            throw error
        }
        try await settle(try commit(write.entry, for: write.key))
    }

    /// Frees what was stored of `write`, which will not be committed.
    public func abandon(_ write: ArrivingWrite) {
        discard(write.entry)
    }

    /// Logs `entry` as the committed version of `key` and makes it visible, freeing the version
    /// it replaces. A record the log refuses frees `entry` instead and throws.
    private func commit(_ entry: Entry, for key: ByteBuffer) throws -> MetadataLogPosition? {
        let position: MetadataLogPosition?
        do {
            position = try journal?.write(.commit(key: Array(key.readableBytesView), entry: entry))
        } catch {
            discard(entry)
            throw error
        }
        if let previous = keyspace.insert(entry, for: key) { discard(previous) }
        return position
    }

    /// Stores several values as one step (MSET): the chunks of all of them are stored in
    /// parallel, and every new version becomes visible at one commit point, so a reader sees all
    /// of them or none. A key given twice ends with its last value, as in Redis.
    public func setAll(_ pairs: [(key: ByteBuffer, value: ByteBuffer)]) async throws {
        let entries = try await withThrowingTaskGroup(of: (Int, Entry).self) { group in
            for (index, pair) in pairs.enumerated() {
                group.addTask { (index, try await self.storeChunks(of: pair.key, value: ValueBytes(pair.value))) }
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
        var position: MetadataLogPosition?
        var failure: (any Error)?
        for (pair, entry) in zip(pairs, entries) {
            // Once the log refuses a record, the rest are dropped; the keys logged before it
            // come back after a restart, so they are made visible now too.
            guard failure == nil else {
                discard(entry)
                continue
            }
            do {
                position = try commit(entry, for: pair.key)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        try await settle(position)
    }

    /// Stores several values as independent SETs (a pipeline's run of plain SETs): the chunks of
    /// all of them are stored in parallel, then each version commits on its own, in the given
    /// order, so each succeeds or fails alone.
    ///
    /// The versions commit in one step, with no suspension between them. So a key given more
    /// than once is stored with its last value only: its earlier versions would be superseded
    /// in that same step, never visible to any reader. They cost the nodes and the COS nothing
    /// and share the last one's outcome: if it fails, they were not stored either. A run of one
    /// key is thus one plain SET of its last value, and is absorbed as such (see
    /// ``set(_:value:condition:expiry:)``): with no other key in it, there is no order between
    /// keys to keep.
    public func setEach(_ pairs: [(key: ByteBuffer, value: ByteBuffer)]) async -> [Result<Void, any Error>] {
        var lastIndex = [ByteBuffer: Int]()
        for (index, pair) in pairs.enumerated() { lastIndex[pair.key] = index }
        if lastIndex.count == 1, let last = pairs.last {
            let outcome: Result<Void, any Error>
            do {
                outcome = .success(try await absorbingSet(last.key, value: ValueBytes(last.value)))
            } catch {
                outcome = .failure(error)
            }
            return Array(repeating: outcome, count: pairs.count)
        }
        // Tasks rather than a task group: this toolchain's release build corrupts a group
        // child's result of type (Int, Result<Entry, any Error>).
        let tasks = pairs.enumerated().map { index, pair in
            lastIndex[pair.key] == index ? Task { try await self.storeChunks(of: pair.key, value: ValueBytes(pair.value)) } : nil
        }
        var stored = [Result<Entry, any Error>?]()
        stored.reserveCapacity(tasks.count)
        for task in tasks { stored.append(await task?.result) }
        var outcomes = [Result<Void, any Error>](repeating: .success(()), count: pairs.count)
        var position: MetadataLogPosition?
        var committed: [Int] = []
        for (index, pair) in pairs.enumerated() {
            guard let result = stored[index] else { continue }
            do {
                position = try commit(try result.get(), for: pair.key)
                committed.append(index)
            } catch {
                outcomes[index] = .failure(error)
            }
        }
        do {
            try await settle(position)
        } catch {
            for index in committed { outcomes[index] = .failure(error) }
        }
        for (index, pair) in pairs.enumerated() {
            if let last = lastIndex[pair.key], last != index { outcomes[index] = outcomes[last] }
        }
        return outcomes
    }

    /// Codes `value` stripe by stripe onto the nodes under a new version; nothing is visible yet.
    private func storeChunks(of key: ByteBuffer, value: ValueBytes) async throws -> Entry {
        try await storeVersion(of: key, length: value.readableBytes) { range in value.slice(range) }
    }

    /// Codes a new version of `key`, `length` bytes long, onto the nodes one stripe at a time;
    /// `stripe` gives the bytes of the value's byte range of each, in order, as they are needed.
    /// Nothing is visible yet.
    private func storeVersion(
        of key: ByteBuffer, length: Int, stripe bytesOfStripe: (Range<Int>) async throws -> ValueBytes
    ) async throws -> Entry {
        let entry = try newVersion(of: key, length: length)
        do {
            for stripe in 0..<entry.descriptor.stripeCount {
                let bytes = try await bytesOfStripe(entry.descriptor.byteRange(ofStripe: stripe))
                try await storeStripe(stripe, of: entry, bytes: bytes)
            }
            try await waitUntilDurable(entry)
        } catch {
            // Chunks of stripes already stored would otherwise stay on the nodes for good.
            discard(entry)
            throw error
        }
        return entry
    }

    /// A new version for a value of `length` bytes of `key`: its descriptor and placement.
    private func newVersion(of key: ByteBuffer, length: Int) throws -> Entry {
        try journal?.reserve(lastVersion + 1)
        lastVersion += 1
        let version = lastVersion
        let geometry =
            length < configuration.smallObjectThreshold
            ? try ErasureGeometry(dataShards: 1, parityShards: configuration.geometry.parityShards)
            : configuration.geometry
        let placement = (0..<geometry.totalShards).map { (Int(version) + $0) % nodes.count }
        let descriptor = encoder.descriptor(keyHash: KeyHash.of(key.readableBytesView), version: version, length: length, geometry: geometry)
        return Entry(descriptor: descriptor, placement: placement)
    }

    /// Codes one stripe of `entry` from its `bytes` and stores its chunks on their nodes in
    /// parallel.
    private func storeStripe(_ stripe: Int, of entry: Entry, bytes: ValueBytes) async throws {
        let descriptor = entry.descriptor
        let chunks = encodeStripe(stripe, of: descriptor, bytes: bytes, shards: 0..<descriptor.geometry.totalShards)
        if let persistence {
            let kept = chunks.indices.filter { entry.isPersisted(shard: $0) }.map { shard in
                (ChunkID(version: descriptor.version, stripe: stripe, shard: shard), node: entry.placement[shard], bytes: chunks[shard])
            }
            try await persistence.track(kept, timeout: configuration.backlogTimeout)
            if persistence.unpersistedBytes > persistence.capacity / 2 { flushHeldWrites() }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (shard, bytes) in chunks.enumerated() {
                let node = nodes[entry.placement[shard]]
                let id = ChunkID(version: descriptor.version, stripe: stripe, shard: shard)
                let persist = entry.isPersisted(shard: shard)
                group.addTask { try await node.store(id, bytes: bytes, persist: persist) }
            }
            try await group.waitForAll()
        }
    }

    /// Returns once `entry`'s chunks are as durable as ``Configuration/durability`` asks.
    private func waitUntilDurable(_ entry: Entry) async throws {
        guard configuration.durability == .cos, let persistence else { return }
        try await persistence.waitUntilPersisted(entry.chunkIDs.map(\.chunk).filter { entry.isPersisted(shard: $0.shard) })
    }

    /// Asks every node to write what it holds back now, at most once per
    /// ``Configuration/flushRequestInterval``: the proxy keeps those chunks' bytes until they
    /// are persisted, so holding writes back must not fill ``PersistenceTracker/capacity`` and
    /// stall writes.
    private func flushHeldWrites() {
        let now = ContinuousClock.now
        if let last = lastFlushRequest, now - last < configuration.flushRequestInterval { return }
        lastFlushRequest = now
        flushRequestCount += 1
        let nodes = self.nodes
        Task {
            await withDiscardingTaskGroup { group in
                for node in nodes { group.addTask { await node.flushWrites() } }
            }
        }
    }

    /// The committed value of `key`, or nil if there is none. A large value holds its share of
    /// `memory` from before it is read until the reply carrying it is gone; with `memory`, a value
    /// of more than ``streamedStripeCount`` stripes is read for a reply, stripe by stripe.
    public func get(_ key: ByteBuffer, memory: ClientMemory? = nil) async throws -> ValueBytes? {
        guard let entry = lookup(key) else { return nil }
        return try await pinnedRead(entry, of: key, range: 0..<entry.descriptor.length, memory: memory)
    }

    /// The committed values of several keys (MGET), all pinned at one moment; values in the
    /// read cache are answered at once, the others read in parallel. Nil for a key that does
    /// not exist.
    ///
    /// With a `byteLimit`, only the longest prefix of `keys` whose values total at most that
    /// many bytes is read (always at least the first key), and the result is that much shorter:
    /// a pipelining client then holds a bounded amount of values at a time, however large. The
    /// large values read hold their share of `memory` together, taken before any is read.
    public func getAll(_ keys: [ByteBuffer], byteLimit: Int = .max, memory: ClientMemory? = nil) async throws -> [ValueBytes?] {
        var values: [ValueBytes?] = []
        values.reserveCapacity(keys.count)
        // By version, so a key asked for many times (a pipeline's hot key) is read once.
        var uncached: [UInt64: (entry: Entry, indexes: [Int])] = [:]
        var bytes = 0
        // A key answered from the cache (or missing), for the keys right after it that repeat it
        // (a pipeline's hot key): those are answered without looking the key up again. Two
        // variables rather than an optional tuple, which is copied through generic code.
        var answeredKey: ByteBuffer?
        var answeredValue: ValueBytes?
        for (index, key) in keys.enumerated() {
            if answeredKey == key {
                let length = answeredValue?.readableBytes ?? 0
                if bytes + length > byteLimit { break }
                bytes += length
                values.append(answeredValue)
                if answeredValue == nil {
                    missCount += 1
                } else {
                    hitCount += 1
                    readCache.countHit()
                }
                continue
            }
            let entry = lookup(key)
            let length = entry?.descriptor.length ?? 0
            if index > 0, bytes + length > byteLimit { break }
            bytes += length
            answeredKey = key
            answeredValue = nil
            guard let entry else {
                values.append(nil)
                continue
            }
            if let cached = readCache.value(of: entry.version) {
                answeredValue = ValueBytes(cached)
                values.append(answeredValue)
            } else {
                answeredKey = nil
                values.append(nil)
                uncached[entry.version, default: (entry, [])].indexes.append(index)
            }
        }
        if uncached.isEmpty { return values }
        for (entry, _) in uncached.values { pin(entry) }
        defer { for (entry, _) in uncached.values { unpin(entry) } }
        // One hold for all of them: a reader holding part of its share must not wait for the rest.
        let hold = try await hold(uncached.values.map { ($0.entry, 0..<$0.entry.descriptor.length) }, of: memory)
        let streaming = memory != nil
        return try await withThrowingTaskGroup(of: (UInt64, ValueBytes).self) { group in
            for (version, (entry, indexes)) in uncached {
                let key = keys[indexes[0]]
                group.addTask {
                    (version, try await self.read(entry, of: key, range: 0..<entry.descriptor.length, streaming: streaming))
                }
            }
            for try await (version, var value) in group {
                value.hold = hold
                for index in uncached[version]?.indexes ?? [] { values[index] = value }
            }
            return values
        }
    }

    /// The bytes of `key`'s value in `range` (clamped to the value), fetching and decoding only
    /// the stripes that overlap it; nil if the key does not exist.
    public func get(_ key: ByteBuffer, range: Range<Int>, memory: ClientMemory? = nil) async throws -> ValueBytes? {
        guard let entry = lookup(key) else { return nil }
        return try await pinnedRead(entry, of: key, range: range, memory: memory)
    }

    /// The value of `key`, which is then deleted (GETDEL). See ``getAndChange(_:memory:_:)``.
    public func getAndDelete(_ key: ByteBuffer, memory: ClientMemory? = nil) async throws -> ValueBytes? {
        try await getAndChange(key, memory: memory) { key in try await delete(key) }
    }

    /// The value of `key`, whose TTL is then changed by `expiry` (GETEX). See
    /// ``getAndChange(_:memory:_:)``: a write that keeps the TTL (APPEND, SET KEEPTTL) cannot
    /// carry the old one past it.
    public func getAndUpdateExpiry(_ key: ByteBuffer, expiry: ExpiryUpdate, memory: ClientMemory? = nil) async throws -> ValueBytes? {
        if expiry == .keep { return try await get(key, memory: memory) }
        return try await getAndChange(key, memory: memory) { key in
            switch expiry {
            case .keep: break
            case .clear: try await setExpiry(nil, of: key)
            case .at(let deadline) where deadline <= clock.now(): try await delete(key)
            case .at(let deadline): try await setExpiry(deadline, of: key)
            }
        }
    }

    /// The value of `key`, after which `change` is made to the version read. It is an update of
    /// the key (see ``updating(_:_:)``): a write committed during the read makes it read again,
    /// so the change always goes to the value returned, and APPENDs never interleave with it.
    private func getAndChange(
        _ key: ByteBuffer, memory: ClientMemory?, _ change: (ByteBuffer) async throws -> Void
    ) async throws -> ValueBytes? {
        try await updating(key) { key, entry in
            guard let entry else { return .done(nil) }
            let value = try await pinnedRead(entry, of: key, range: 0..<entry.descriptor.length, memory: memory)
            guard keyspace[key]?.version == entry.version else { return .overtaken }
            try await change(key)
            return .done(value)
        }
    }

    /// Sets (`.at`) or removes (`.clear`) the TTL of an existing key, if `condition` holds
    /// (EXPIRE, PERSIST); a deadline already past deletes the key.
    ///
    /// - Returns: Whether the key existed, the condition held, and for `.clear`, a TTL was removed.
    public func updateExpiry(of key: ByteBuffer, to expiry: ExpiryUpdate, condition: ExpireCondition = []) async throws -> Bool {
        guard let entry = liveEntry(key) else { return false }
        switch expiry {
        case .keep:
            return true
        case .clear:
            guard entry.expiresAt != nil else { return false }
            try await setExpiry(nil, of: key)
        case .at(let deadline):
            guard condition.allows(current: entry.expiresAt, new: deadline) else { return false }
            if deadline <= clock.now() { try await delete(key) } else { try await setExpiry(deadline, of: key) }
        }
        return true
    }

    /// Changes the TTL of the key's current version, logged first.
    private func setExpiry(_ deadline: Int64?, of key: ByteBuffer) async throws {
        guard let entry = keyspace[key] else { return }
        let position = try journal?.write(.expiry(key: Array(key.readableBytesView), version: entry.version, expiresAt: deadline))
        keyspace.setExpiry(deadline, for: key)
        try await settle(position)
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

    /// Removes a key whose TTL passed. Logging the removal is best effort: a key the log still
    /// holds is expired again when it is read back.
    private func removeExpired(_ key: ByteBuffer) {
        guard let entry = keyspace.remove(key) else { return }
        _ = try? journal?.write(.remove(key: Array(key.readableBytesView), version: entry.version))
        expiredKeyCount += 1
        discard(entry)
    }

    /// ``read(_:of:range:streaming:)`` with the version pinned throughout, the value holding the
    /// share of `memory` it takes from before it is read.
    private func pinnedRead(_ entry: Entry, of key: ByteBuffer, range: Range<Int>, memory: ClientMemory?) async throws -> ValueBytes {
        pin(entry)
        defer { unpin(entry) }
        let hold = try await hold([(entry, range)], of: memory)
        var value = try await read(entry, of: key, range: range, streaming: memory != nil)
        value.hold = hold
        return value
    }

    /// The bytes of `key`'s version `entry` in `range`: from the read cache, or decoded from the
    /// stripes that overlap `range`. A whole value read from the nodes is cached if `entry` is
    /// still the key's committed version once it arrives.
    ///
    /// When `streaming` and `range` spans more than ``streamedStripeCount`` stripes, only its
    /// first stripe is read now, so a stripe that cannot be read still fails the command; the
    /// others are left as ``RemainingStripes``, which keep the version pinned.
    private func read(_ entry: Entry, of key: ByteBuffer, range: Range<Int>, streaming: Bool) async throws -> ValueBytes {
        let descriptor = entry.descriptor
        let wanted = range.clamped(to: 0..<descriptor.length)
        if var cached = readCache.value(of: entry.version) {
            cached.moveReaderIndex(forwardBy: wanted.lowerBound)
            cached.moveWriterIndex(to: cached.readerIndex + wanted.count)
            return ValueBytes(cached)
        }
        let stripes = descriptor.stripes(overlapping: wanted)
        if streaming, stripes.count > Self.streamedStripeCount {
            let firstStripeEnd = descriptor.byteRange(ofStripe: stripes.lowerBound).upperBound
            var value = try await decode(entry, range: wanted.lowerBound..<firstStripeEnd)
            pin(entry)
            value.append(RemainingStripes(store: self, entry: entry, range: firstStripeEnd..<wanted.upperBound))
            return value
        }
        let value = try await decode(entry, range: wanted)
        if wanted.count == descriptor.length, wanted.count <= readCache.maximumValueLength,
            keyspace[key]?.version == entry.version
        {
            readCache.insert(value.joined, version: entry.version)
        }
        return value
    }

    /// Decodes the stripes of `entry` that overlap `wanted` and returns the bytes in it. The
    /// caller keeps `entry` pinned.
    func decode(_ entry: Entry, range wanted: Range<Int>) async throws -> ValueBytes {
        let descriptor = entry.descriptor
        var output = ValueBytes(expectedLength: wanted.count)
        var decoder = ObjectDecoder()
        for stripe in descriptor.stripes(overlapping: wanted) {
            let stripeRange = descriptor.byteRange(ofStripe: stripe)
            let part = wanted.clamped(to: stripeRange)
            let offset = part.lowerBound - stripeRange.lowerBound
            let chunks = await firstChunks(of: entry, stripe: stripe)
            let wantedInStripe = offset..<(offset + part.count)
            if Self.append(wantedInStripe, fromDataChunks: chunks, dataShards: descriptor.geometry.dataShards, into: &output) {
                continue
            }
            let decoded = try Self.decode(stripe, of: descriptor, from: chunks, using: &decoder) { bytes in
                bytes.withUnsafeBytes { raw in ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: raw[wantedInStripe])) }
            }
            output.append(decoded)
        }
        return output
    }

    /// Reads `d` chunks of one stripe of `entry`, decodes them if need be, and hands the
    /// stripe's bytes to `body`.
    private func decodeStripe<Result>(
        _ stripe: Int,
        of entry: Entry,
        using decoder: inout ObjectDecoder,
        _ body: (RawSpan) throws -> Result
    ) async throws -> Result {
        try Self.decode(stripe, of: entry.descriptor, from: await firstChunks(of: entry, stripe: stripe), using: &decoder, body)
    }

    private static func decode<Result>(
        _ stripe: Int,
        of descriptor: ObjectDescriptor,
        from chunks: [(ByteBuffer, ValidatedChunk)],
        using decoder: inout ObjectDecoder,
        _ body: (RawSpan) throws -> Result
    ) throws -> Result {
        decoder.beginStripe(stripe, of: descriptor)
        for (chunk, validated) in chunks {
            try decoder.addChunk(chunk.readableBytesSpan, validated: validated)
        }
        return try decoder.finishStripe(body)
    }

    /// Appends the stripe's bytes in `wanted` straight from the payloads of its data chunks, when
    /// all of them arrived and the stripe is stored uncompressed, as it mostly is: long payloads
    /// are not copied at all, short ones once, instead of twice through the decoder's shard
    /// buffer. Returns false, having appended nothing, otherwise.
    private static func append(
        _ wanted: Range<Int>,
        fromDataChunks chunks: [(ByteBuffer, ValidatedChunk)],
        dataShards: Int,
        into output: inout ValueBytes
    ) -> Bool {
        var payloads = [ByteBuffer?](repeating: nil, count: dataShards)
        for (bytes, validated) in chunks where validated.header.shardIndex < dataShards {
            let header = validated.header
            guard !header.flags.contains(.compressed), header.storedLength == header.stripeLength else { return false }
            payloads[header.shardIndex] = bytes.getSlice(at: bytes.readerIndex + ChunkHeader.size, length: header.payloadLength)
        }
        guard payloads.allSatisfy({ $0 != nil }) else { return false }
        var start = 0
        for case let payload? in payloads {
            let covered = start..<(start + payload.readableBytes)
            let overlap = covered.clamped(to: wanted)
            if !overlap.isEmpty {
                var piece = payload
                piece.moveReaderIndex(forwardBy: overlap.lowerBound - start)
                piece.moveWriterIndex(to: piece.readerIndex + overlap.count)
                output.append(piece)
            }
            start = covered.upperBound
        }
        return true
    }

    /// The chunks of `shards` of one stripe, encoded from its bytes. Encoding and copying the
    /// chunks out happen with no suspension between them, so the actor's one encoder is never
    /// shared between two callers.
    private func encodeStripe(_ stripe: Int, of descriptor: ObjectDescriptor, bytes: RawSpan, shards: some Sequence<Int>) -> [ByteBuffer] {
        encoder.encodeStripe(stripe, of: descriptor, bytes: bytes)
        return encodedChunks(shards)
    }

    /// The same for a stripe given in parts, which the encoder copies in one by one.
    private func encodeStripe(_ stripe: Int, of descriptor: ObjectDescriptor, bytes: ValueBytes, shards: some Sequence<Int>) -> [ByteBuffer] {
        encoder.encodeStripe(stripe, of: descriptor) { copy in
            for part in bytes.parts { copy(part.readableBytesSpan) }
        }
        return encodedChunks(shards)
    }

    /// The chunks of `shards` of the stripe the encoder coded last.
    private func encodedChunks(_ shards: some Sequence<Int>) -> [ByteBuffer] {
        shards.map { shard in encoder.withChunk(shard) { header, payload in Self.chunkBytes(header, payload) } }
    }

    /// Returns the first `d` valid chunks of the stripe to arrive. It asks the nodes holding the
    /// data chunks first, so a healthy stripe costs `d` requests and no decoding; a node that
    /// fails or sends a bad chunk is replaced by a spare (a parity chunk's node) at once, and all
    /// spares are asked once the first nodes have not all answered within the ``HedgeDelay``.
    /// Requests still on their way when `d` chunks are in are cancelled and their answers
    /// dropped. When fewer than `d` come back, the missing data chunks are read from the COS.
    private func firstChunks(of entry: Entry, stripe: Int) async -> [(ByteBuffer, ValidatedChunk)] {
        let descriptor = entry.descriptor
        let wanted = descriptor.geometry.dataShards
        var accepted = await Self.first(
            wanted,
            of: Array(entry.placement.indices),
            askingAtOnce: wanted,
            hedge: (hedgeDelay, hedgeTimers),
            stripe: stripe,
            of: descriptor
        ) { [nodes, hedgeDelay] shard, id in
            let asked = ContinuousClock.now
            let chunk = try await nodes[entry.placement[shard]].fetch(id)
            if chunk != nil { hedgeDelay.record(.now - asked) }
            return chunk
        }
        if accepted.chunks.count < wanted, let storage {
            let missing = entry.placement.indices.filter { !accepted.shards.contains($0) && entry.isPersisted(shard: $0) }
            let fromStorage = await Self.first(
                wanted - accepted.chunks.count,
                of: missing,
                askingAtOnce: missing.count,
                hedge: nil,
                stripe: stripe,
                of: descriptor
            ) { _, id in try await storage.get(id.storageName) }
            accepted.chunks += fromStorage.chunks
        }
        return accepted.chunks
    }

    /// What a read of one stripe hears from its fetches.
    private enum FetchEvent: Sendable {
        case answered(shard: Int, chunk: ByteBuffer?)
        case hedgeDelayPassed
    }

    /// Fetches shards of a stripe and keeps the first `count` that are valid chunks of it:
    /// `askingAtOnce` of `shards` at first, one more for each that fails or is invalid, and all
    /// the rest once `hedge`'s delay has passed. The fetches left are cancelled.
    private static func first(
        _ count: Int,
        of shards: [Int],
        askingAtOnce: Int,
        hedge: (delay: HedgeDelay, timers: any EventLoop)?,
        stripe: Int,
        of descriptor: ObjectDescriptor,
        fetch: @escaping @Sendable (Int, ChunkID) async throws -> ByteBuffer?
    ) async -> (chunks: [(ByteBuffer, ValidatedChunk)], shards: Set<Int>) {
        var accepted = [(ByteBuffer, ValidatedChunk)]()
        var shardsSeen = Set<Int>()
        guard count > 0 else { return (accepted, shardsSeen) }
        return await withTaskGroup(of: FetchEvent.self) { group in
            var asked = 0
            var unanswered = 0
            func ask(_ more: Int) {
                for shard in shards.dropFirst(asked).prefix(more) {
                    let id = ChunkID(version: descriptor.version, stripe: stripe, shard: shard)
                    group.addTask { .answered(shard: shard, chunk: try? await fetch(shard, id)) }
                    asked += 1
                    unanswered += 1
                }
            }
            ask(askingAtOnce)
            if asked < shards.count, let hedge {
                let delay = hedge.delay.current
                group.addTask {
                    await hedge.timers.sleep(for: delay)
                    return .hedgeDelayPassed
                }
            }
            collecting: for await event in group {
                switch event {
                case .hedgeDelayPassed:
                    if asked < shards.count { hedge?.delay.countHedge() }
                    ask(shards.count)
                case .answered(let shard, let chunk):
                    unanswered -= 1
                    if let chunk,
                        let validated = try? ObjectDecoder.validate(chunk.readableBytesSpan, ofStripe: stripe, of: descriptor)
                    {
                        accepted.append((chunk, validated))
                        shardsSeen.insert(shard)
                        if accepted.count == count { break collecting }
                    } else {
                        ask(1)
                    }
                    // Nothing on its way: ask the rest now rather than wait for the hedge, or stop.
                    if unanswered == 0 {
                        guard asked < shards.count else { break collecting }
                        ask(shards.count)
                    }
                }
            }
            group.cancelAll()
            return (accepted, shardsSeen)
        }
    }

    /// Removes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: ByteBuffer) async throws -> Bool {
        guard let current = liveEntry(key) else { return false }
        let position = try journal?.write(.remove(key: Array(key.readableBytesView), version: current.version))
        guard let entry = keyspace.remove(key) else { return false }
        discard(entry)
        try await settle(position)
        return true
    }

    /// Removes every key.
    public func removeAll() async throws {
        let position = try journal?.write(.removeAll)
        for entry in keyspace.removeAll() { discard(entry) }
        try await settle(position)
    }

    /// After a logged change: waits until the record is durable by the log's fsync policy, and
    /// starts a checkpoint in the background when the log has grown enough.
    private func settle(_ position: MetadataLogPosition?) async throws {
        guard let position, var journal else { return }
        if let boundary = journal.checkpointDue() {
            self.journal = journal
            let snapshot = keyspace
            let log = journal.log
            Task.detached {
                try? await log.checkpoint(snapshot.checkpointEntries, at: boundary)
                await self.checkpointEnded()
            }
        }
        try await journal.waitUntilDurable(position)
    }

    private func checkpointEnded() {
        journal?.checkpointEnded()
    }

    /// Keeps the chunks of `entry`'s version until ``unpin(_:)``, even if the version is
    /// superseded or deleted meanwhile: a read that found it can always finish.
    private func pin(_ entry: Entry) {
        readers[entry.version, default: 0] += 1
    }

    func unpin(_ entry: Entry) {
        guard let count = readers[entry.version] else { return }
        guard count == 1 else {
            readers[entry.version] = count - 1
            return
        }
        readers[entry.version] = nil
        if let discarded = discardedWhileRead.removeValue(forKey: entry.version) { discard(discarded) }
    }

    /// Holds the client memory that reading `reads` (versions and the ranges read of them) takes,
    /// if any; the actor is left only when there is something to hold.
    private func hold(_ reads: [(Entry, Range<Int>)], of memory: ClientMemory?) async throws -> ByteBudget.Hold? {
        guard let memory else { return nil }
        let bytes = memory.heldBytes(reading: reads.map { entry, range in
            (range.clamped(to: 0..<entry.descriptor.length).count, entry.descriptor.stripeLength)
        })
        guard bytes > 0 else { return nil }
        return try await memory.budget.hold(bytes, waiting: memory.mayWait)
    }

    /// Queues a superseded or deleted version's chunks to be freed on their nodes and in the COS,
    /// once no read has them pinned.
    private func discard(_ entry: Entry) {
        readCache.remove(entry.version)
        if readers[entry.version] != nil {
            discardedWhileRead[entry.version] = entry
            return
        }
        collector.collect(entry.chunkIDs.map { ($0.nodeIndex, $0.chunk, entry.isPersisted(shard: $0.chunk.shard)) })
    }

    /// The store's background work, until cancelled: frees discarded chunks, and writes again
    /// the unpersisted chunks of nodes that were lost before persisting them.
    public nonisolated func runMaintenance() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.collector.run() }
            group.addTask { await self.sweepOrphanedChunks() }
            if let persistence {
                group.addTask {
                    for await node in persistence.lostNodeStream { await self.resendUnpersisted(on: node) }
                }
            }
        }
    }

    /// Deletes the COS objects of chunks that no key's version owns, left by a previous run that
    /// stopped between storing a write's chunks and committing it, or between dropping a version
    /// and deleting its chunks. Only versions the previous run could have used are looked at, so
    /// this run's writes are never touched, and a version once dropped never comes back.
    ///
    /// - Returns: How many objects it deleted.
    @discardableResult
    public func sweepOrphanedChunks() async -> Int {
        guard let storage, recoveredHighestVersion > 0,
            let names = try? await storage.list(prefix: NodeProtocol.chunkStoragePrefix)
        else { return 0 }
        let live = keyspace.versions
        let orphans = names.compactMap { ChunkID(storageName: $0) }.filter { chunk in
            chunk.version <= recoveredHighestVersion && !live.contains(chunk.version)
        }
        await collector.deleteFromStorage(orphans)
        orphanedChunkCount += orphans.count
        return orphans.count
    }

    /// Stores again on `node` its chunks that the COS does not hold (parity, and the extra copies
    /// of replicated values), each rebuilt from `d` chunks of its stripe. A node that comes back
    /// empty restores its other chunks from its lineage; nothing else brings these back, and
    /// until then each object they belong to has one chunk less in memory. Chunks the node
    /// holds (stored since it came back) and versions superseded meanwhile are passed over.
    ///
    /// - Returns: How many chunks it stored.
    @discardableResult
    public func rebuildMemoryOnlyChunks(onNode node: Int) async -> Int {
        let affected = keyspace.keys.compactMap { key -> (key: ByteBuffer, entry: Entry, shards: [Int])? in
            guard let entry = keyspace[key] else { return nil }
            let shards = entry.placement.indices.filter { entry.placement[$0] == node && !entry.isPersisted(shard: $0) }
            return shards.isEmpty ? nil : (key, entry, shards)
        }
        let candidates = affected.flatMap { _, entry, shards in
            (0..<entry.descriptor.stripeCount).flatMap { stripe in
                shards.map { ChunkID(version: entry.version, stripe: stripe, shard: $0) }
            }
        }
        let held = await nodes[node].held(candidates)
        var rebuilt = 0
        for (key, entry, shards) in affected {
            // Pinned, so a version superseded meanwhile is freed after its rebuilt chunks land,
            // not before, which would leave them on the node for good.
            pin(entry)
            defer { unpin(entry) }
            let descriptor = entry.descriptor
            for stripe in 0..<descriptor.stripeCount where keyspace[key]?.version == entry.version {
                let missing = shards.filter { !held.contains(ChunkID(version: descriptor.version, stripe: stripe, shard: $0)) }
                guard !missing.isEmpty else { continue }
                var decoder = ObjectDecoder()
                guard
                    let chunks = try? await decodeStripe(stripe, of: entry, using: &decoder, { bytes in
                        encodeStripe(stripe, of: descriptor, bytes: bytes, shards: missing)
                    })
                else { break }
                for (shard, bytes) in zip(missing, chunks) {
                    let id = ChunkID(version: descriptor.version, stripe: stripe, shard: shard)
                    guard (try? await nodes[node].store(id, bytes: bytes, persist: false)) != nil else { continue }
                    rebuilt += 1
                }
            }
        }
        rebuiltChunkCount += rebuilt
        return rebuilt
    }

    /// Stores again, on a fresh instance of `node`, the chunks it held but had not persisted.
    private nonisolated func resendUnpersisted(on node: Int) async {
        guard let persistence else { return }
        var delay = Duration.milliseconds(100)
        var remaining = persistence.unpersisted(on: node)
        while !remaining.isEmpty, !Task.isCancelled {
            var failed: [(ChunkID, ByteBuffer)] = []
            for (chunk, bytes) in remaining where persistence.isPending(chunk) {
                do { try await nodes[node].store(chunk, bytes: bytes, persist: true) } catch { failed.append((chunk, bytes)) }
            }
            remaining = failed
            if remaining.isEmpty { return }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
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
