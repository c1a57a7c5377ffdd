import COSTestSupport
import Foundation
import InfiniCOS
import InfiniCoding
import InfiniCodingReference
import InfiniMetadata
import InfiniNodeProtocol
import NIOCore
import RESP
import Synchronization
import Testing

@testable import InfiniProxy

/// A memory node that records which chunks were stored on it and fetched from it.
actor CountingChunkNode: ChunkNode {
    nonisolated let id: Int
    private let node: InProcessChunkNode
    private(set) var stored: [ChunkID] = []
    private(set) var fetched: [ChunkID] = []
    private(set) var flushes = 0

    init(id: Int) {
        self.id = id
        self.node = InProcessChunkNode(id: id)
    }

    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws {
        stored.append(chunk)
        try await node.store(chunk, bytes: bytes, persist: persist)
    }

    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer? {
        fetched.append(chunk)
        return try await node.fetch(chunk)
    }

    func remove(_ chunks: [ChunkID]) async -> Set<ChunkID> { await node.remove(chunks) }

    func flushWrites() { flushes += 1 }
}

/// A memory node that can be made to hang on reads, as a stopped process would: a fetch then
/// waits until it is cancelled.
actor StallingChunkNode: ChunkNode {
    nonisolated let id: Int
    private let node: InProcessChunkNode
    private var stalls = false

    init(id: Int) {
        self.id = id
        self.node = InProcessChunkNode(id: id)
    }

    func setStalling(_ stalls: Bool) { self.stalls = stalls }

    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws {
        try await node.store(chunk, bytes: bytes, persist: persist)
    }

    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer? {
        if stalls { try await Task.sleep(for: .seconds(3600)) }
        return try await node.fetch(chunk)
    }

    func remove(_ chunks: [ChunkID]) async -> Set<ChunkID> { await node.remove(chunks) }
}

/// A test node that tells how many bytes of chunks it holds.
protocol ReportsStoredBytes: Sendable {
    var storedBytes: Int { get async }
}

extension InProcessChunkNode: ReportsStoredBytes {}

/// The bytes of chunks all of `nodes` hold.
func totalStoredBytes(of nodes: [some ReportsStoredBytes]) async -> Int {
    var total = 0
    for node in nodes { total += await node.storedBytes }
    return total
}

/// A memory node whose reads (or stores of one version) wait while its gate is closed, until the
/// test opens it.
actor GatedChunkNode: ChunkNode, ReportsStoredBytes {
    nonisolated let id: Int
    private let node: InProcessChunkNode
    private var isClosed = false
    private var closedVersion: UInt64?
    private var failedVersion: UInt64?
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var waitingStoreCount = 0

    init(id: Int) {
        self.id = id
        self.node = InProcessChunkNode(id: id)
    }

    var waitingReads: Int { waiting.count }
    var storedBytes: Int { get async { await node.storedBytes } }

    var waitingStores: Int { waitingStoreCount }

    /// Returns once a store is held at this node, or after 2.5 s (the caller's checks then fail).
    func waitUntilAStoreWaits() async throws {
        for _ in 0..<500 where waitingStoreCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
    }

    func close() { isClosed = true }

    func closeStores(of version: UInt64) { closedVersion = version }

    /// Makes stores of `version` fail, as a node that broke would.
    func failStores(of version: UInt64) { failedVersion = version }

    func open() {
        isClosed = false
        closedVersion = nil
        waitingStoreCount = 0
        for request in waiting { request.resume() }
        waiting.removeAll()
    }

    /// Drops `chunks`, as a node that lost its memory.
    func forget(_ chunks: [ChunkID]) async { _ = await node.remove(chunks) }

    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws {
        if chunk.version == closedVersion {
            waitingStoreCount += 1
            await withCheckedContinuation { waiting.append($0) }
        }
        if chunk.version == failedVersion { throw NodeUnavailable(node: id, reason: "stores of version \(chunk.version) fail") }
        try await node.store(chunk, bytes: bytes, persist: persist)
    }

    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer? {
        if isClosed { await withCheckedContinuation { waiting.append($0) } }
        return try await node.fetch(chunk)
    }

    func remove(_ chunks: [ChunkID]) async -> Set<ChunkID> { await node.remove(chunks) }
}

/// A memory node that can lose everything it holds, as a node process that is killed does.
actor ForgetfulChunkNode: ChunkNode {
    nonisolated let id: Int
    private(set) var chunks: [ChunkID: ByteBuffer] = [:]

    init(id: Int) { self.id = id }

    /// Drops every chunk and returns what was held.
    func forgetAll() -> [ChunkID: ByteBuffer] {
        defer { chunks = [:] }
        return chunks
    }

    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws { chunks[chunk] = bytes }

    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer? { chunks[chunk] }

    func remove(_ ids: [ChunkID]) async -> Set<ChunkID> {
        for id in ids { chunks[id] = nil }
        return []
    }
}

/// The metadata side of the store: ranged reads, SCAN's guarantee, TTLs and the sweep.
struct ObjectStoreTests {
    /// A 4+2 store; its read cache is off unless asked for, so reads reach the nodes.
    private static func makeStore(nodes: [any ChunkNode], shardLength: Int = 1024, readCache: Int = 0) throws -> ObjectStore {
        ObjectStore(
            configuration: .init(geometry: try ErasureGeometry("4+2"), maximumShardLength: shardLength, readCacheCapacity: readCache),
            nodes: nodes
        )
    }

    private static func key(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func aByteLimitReadsOnlyThePrefixOfKeysWhoseValuesFit() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        for (key, length) in [("a", 600), ("b", 300), ("c", 200), ("d", 50)] {
            try await store.set(Self.key(key), value: ByteBuffer(repeating: UInt8(ascii: "v"), count: length))
        }
        let keys = ["a", "missing", "b", "c", "d"].map(Self.key)
        #expect(try await store.getAll(keys, byteLimit: 1000).map { $0?.readableBytes } == [600, nil, 300])
        // The first key is always read, however large.
        #expect(try await store.getAll(keys, byteLimit: 10).map { $0?.readableBytes } == [600])
        #expect(try await store.getAll(Array(keys.dropFirst(2)), byteLimit: 550).map { $0?.readableBytes } == [300, 200, 50])
        #expect(try await store.getAll(keys).count == 5)
    }

    @Test func aKeyAskedForManyTimesInOneCallIsReadOnce() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        try await store.set(Self.key("hot"), value: ByteBuffer(repeating: 1, count: 5000))
        let before = await nodes.asyncCount { await $0.fetched.count }
        _ = try await store.getAll([Self.key("hot")])
        let once = await nodes.asyncCount { await $0.fetched.count } - before
        let values = try await store.getAll(Array(repeating: Self.key("hot"), count: 16))
        #expect(values.map { $0?.joined } == Array(repeating: ByteBuffer(repeating: 1, count: 5000), count: 16))
        #expect(await nodes.asyncCount { await $0.fetched.count } - before == 2 * once)
    }

    @Test func keysRepeatedInARunAreAnsweredAndCountedLikeTheRest() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, readCache: 1 << 20)
        try await store.set(Self.key("hot"), value: ByteBuffer(string: "hot value"))
        try await store.set(Self.key("other"), value: ByteBuffer(string: "other value"))
        _ = try await store.getAll([Self.key("hot"), Self.key("other")])
        let before = await store.statistics
        let keys = ["hot", "hot", "hot", "missing", "missing", "other", "hot", "hot", "other"]
        let values = try await store.getAll(keys.map(Self.key))
        #expect(values.map { $0.map { String(buffer: $0.joined) } } == keys.map { $0 == "missing" ? nil : "\($0) value" })
        let after = await store.statistics
        #expect(after.hits - before.hits == 7)
        #expect(after.misses - before.misses == 2)
        #expect(after.readCacheHits - before.readCacheHits == 7)
        // A byte limit ends a run of one repeated key like any other run.
        #expect(try await store.getAll(Array(repeating: Self.key("hot"), count: 5), byteLimit: 20).count == 2)
    }

    @Test func setEachCommitsInOrderAndStoresOnlyTheLastValueOfARepeatedKey() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, readCache: 1 << 20)
        let pairs = [("a", "1"), ("b", "x"), ("a", "2"), ("c", String(repeating: "c", count: 4096))].map {
            (key: Self.key($0.0), value: ByteBuffer(string: $0.1))
        }
        let outcomes = await store.setEach(pairs)
        #expect(outcomes.count == 4)
        #expect(outcomes.allSatisfy { (try? $0.get()) != nil })
        #expect(try await store.getAll(["a", "b", "c", "missing"].map(Self.key)).map { $0?.joined } == [
            ByteBuffer(string: "2"), ByteBuffer(string: "x"), ByteBuffer(string: String(repeating: "c", count: 4096)), nil,
        ])
        // Two small values replicated on 1 + 2 nodes and one stripe coded into 4 + 2: "a" = "1" never
        // reached a node.
        var stored: [ChunkID] = []
        for node in nodes { stored += await node.stored }
        #expect(stored.count == 3 + 3 + 6)
        #expect(Set(stored.map(\.version)).count == 3)
        // The values read above are cached now: a second read needs no node.
        let fetchedBefore = await nodes.asyncCount { await $0.fetched.count }
        #expect(try await store.getAll([Self.key("a"), Self.key("c")]).count == 2)
        #expect(await nodes.asyncCount { await $0.fetched.count } == fetchedBefore)
    }

    @Test func aKeyRepeatedInSetEachSharesItsLastValuesFailure() async throws {
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        for node in nodes { await node.fail() }
        let outcomes = await store.setEach([("a", "1"), ("b", "x"), ("a", "2")].map {
            (key: Self.key($0.0), value: ByteBuffer(string: $0.1))
        })
        // "a" = "1" was never stored: acknowledging it would lose it.
        #expect(outcomes.count == 3)
        #expect(outcomes.allSatisfy { (try? $0.get()) == nil })
        #expect(await store.contains(Self.key("a")) == false)
    }

    /// Nodes hold COS writes back, and the proxy keeps the chunks' bytes until they are
    /// persisted: past half its limit it asks the nodes to write now, at most once an interval.
    @Test(arguments: [Duration.seconds(3600), .zero])
    func nodesAreAskedToWriteSoonerWhenUnpersistedBytesPassHalfTheLimit(interval: Duration) async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = ObjectStore(
            configuration: .init(geometry: try ErasureGeometry("4+2"), readCacheCapacity: 0, flushRequestInterval: interval),
            nodes: nodes,
            storage: MemoryObjectStorage(),
            persistence: PersistenceTracker(capacity: 100_000)
        )
        func flushes() async -> [Int] {
            var counts: [Int] = []
            for node in nodes { counts.append(await node.flushes) }
            return counts
        }
        func waitForFlushes(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while await flushes() != Array(repeating: count, count: 6), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        // 40 kB of data chunks kept (random bytes, which do not compress): under half the
        // limit, nobody is asked.
        try await store.set(Self.key("a"), value: ByteBuffer(bytes: SampleData.random(40_000, seed: 1)))
        try await Task.sleep(for: .milliseconds(50))
        #expect(await flushes() == [0, 0, 0, 0, 0, 0])
        // 80 kB: every node is asked.
        try await store.set(Self.key("b"), value: ByteBuffer(bytes: SampleData.random(40_000, seed: 2)))
        try await waitForFlushes(1)
        #expect(await flushes() == [1, 1, 1, 1, 1, 1])
        // Each later write past half asks again once the interval has passed, and not before.
        try await store.set(Self.key("c"), value: ByteBuffer(bytes: SampleData.random(10_000, seed: 3)))
        let expected = interval == .zero ? 2 : 1
        try await waitForFlushes(expected)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await flushes() == Array(repeating: expected, count: 6))
        #expect(await store.statistics.flushRequests == expected)
    }

    @Test func rangedReadFetchesOnlyOverlappingStripes() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        // 4 data shards of 1 KiB: 4 KiB stripes, so 20 000 bytes make 5 stripes.
        let bytes = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try await store.set(Self.key("big"), value: ByteBuffer(bytes: bytes))
        let range = 9_000..<9_100
        let part = try #require(try await store.get(Self.key("big"), range: range)?.joined)
        #expect(Array(part.readableBytesView) == Array(bytes[range]))
        var stripes = Set<Int>()
        for node in nodes { for chunk in await node.fetched { stripes.insert(chunk.stripe) } }
        #expect(stripes == [2])
        let across = try #require(try await store.get(Self.key("big"), range: 8_000..<12_300)?.joined)
        #expect(Array(across.readableBytesView) == Array(bytes[8_000..<12_300]))
        let clamped = try #require(try await store.get(Self.key("big"), range: 19_990..<30_000)?.joined)
        #expect(Array(clamped.readableBytesView) == Array(bytes[19_990...]))
        #expect(try await store.get(Self.key("missing"), range: 0..<10)?.joined == nil)
    }

    @Test func aLargeValueIsReadAsItsChunksPayloadsWithoutJoiningThem() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        // 4 data shards of at most 32 KiB: 128 KiB stripes.
        let store = try Self.makeStore(nodes: nodes, shardLength: 32 << 10)
        let bytes = SampleData.random(300_000, seed: 5)
        try await store.set(Self.key("big"), value: ByteBuffer(bytes: bytes))
        let whole = try #require(try await store.get(Self.key("big")))
        #expect(whole.joined == ByteBuffer(bytes: bytes))
        var hedged = false
        for node in nodes where await node.fetched.contains(where: { $0.shard >= 4 }) { hedged = true }
        // A parity chunk that won a hedged race sends its stripe through the decoder instead.
        if !hedged {
            #expect(whole.parts.count == 9, "two full stripes of four payloads each, and the last stripe's short payloads copied together")
        }
        for range in [0..<300_000, 10_000..<200_000, 131_000..<131_072, 299_999..<300_000] {
            let part = try #require(try await store.get(Self.key("big"), range: range))
            #expect(part.readableBytes == range.count)
            #expect(Array(part.joined.readableBytesView) == Array(bytes[range]))
        }
        // A compressed value goes through the decoder and comes back the same.
        let compressible = ByteBuffer(repeating: UInt8(ascii: "x"), count: 300_000)
        try await store.set(Self.key("compressible"), value: compressible)
        #expect(try await store.get(Self.key("compressible"))?.joined == compressible)
    }

    @Test func readsAskOnlyTheNodesOfTheDataChunks() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, shardLength: 64 << 10)
        func fetches() async -> [ChunkID] {
            var all: [ChunkID] = []
            for node in nodes { all += await node.fetched }
            return all
        }
        try await store.set(Self.key("small"), value: ByteBuffer(string: "replicated"))
        #expect(try await store.get(Self.key("small"))?.joined == ByteBuffer(string: "replicated"))
        #expect(await fetches().map(\.shard) == [0], "a replicated value needs one copy")
        let coded = ByteBuffer(repeating: 3, count: 20_000)
        try await store.set(Self.key("coded"), value: coded)
        #expect(try await store.get(Self.key("coded"))?.joined == coded)
        #expect(await fetches().dropFirst().map(\.shard).sorted() == [0, 1, 2, 3], "4+2 needs the four data chunks")
    }

    @Test(.timeLimit(.minutes(1))) func aStuckNodeCostsAReadTheHedgeDelayNotItsTimeout() async throws {
        let nodes = (0..<6).map { StallingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, shardLength: 64 << 10)
        let small = ByteBuffer(string: "replicated")
        let coded = ByteBuffer(bytes: (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try await store.set(Self.key("small"), value: small)
        try await store.set(Self.key("coded"), value: coded)
        // Each node in turn hangs: whichever chunk it holds, the read goes on without it.
        for node in nodes {
            await node.setStalling(true)
            #expect(try await store.get(Self.key("small"))?.joined == small)
            #expect(try await store.get(Self.key("coded"))?.joined == coded)
            await node.setStalling(false)
        }
        #expect(await store.statistics.hedgedReads >= 1, "a read that asked a stuck node is counted as hedged")
    }

    @Test func hotValuesComeFromTheReadCacheButNeverAStaleVersion() async throws {
        let nodes = (0..<6).map { CountingChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, readCache: 1 << 20)
        func fetches() async -> Int {
            var total = 0
            for node in nodes { total += await node.fetched.count }
            return total
        }
        try await store.set(Self.key("hot"), value: ByteBuffer(string: "first"))
        #expect(try await store.get(Self.key("hot"))?.joined == ByteBuffer(string: "first"))
        let afterFirstRead = await fetches()
        #expect(afterFirstRead > 0)
        for _ in 0..<3 { #expect(try await store.get(Self.key("hot"))?.joined == ByteBuffer(string: "first")) }
        #expect(try await store.get(Self.key("hot"), range: 1..<3)?.joined == ByteBuffer(string: "ir"))
        #expect(try await store.getAll([Self.key("hot"), Self.key("missing")]).map { $0?.joined } == [ByteBuffer(string: "first"), nil])
        #expect(await fetches() == afterFirstRead, "a cached value went to the nodes")
        #expect(await store.statistics.readCacheHits == 5)

        try await store.set(Self.key("hot"), value: ByteBuffer(string: "second"))
        #expect(await store.statistics.readCacheBytes == 0, "a superseded version stayed cached")
        #expect(try await store.get(Self.key("hot"))?.joined == ByteBuffer(string: "second"))
        #expect(await fetches() > afterFirstRead)
        try await store.delete(Self.key("hot"))
        #expect(try await store.get(Self.key("hot"))?.joined == nil)
        #expect(await store.statistics.readCacheBytes == 0)

        let largest = ByteBuffer(repeating: 6, count: (1 << 20) / ObjectStore.Configuration.readCacheCapacityPerLargestValue)
        try await store.set(Self.key("largest"), value: largest)
        #expect(try await store.get(Self.key("largest"))?.joined == largest)
        #expect(await store.statistics.readCacheBytes > largest.readableBytes, "a value at the cache's limit was not kept")
        try await store.delete(Self.key("largest"))
        let large = ByteBuffer(repeating: 7, count: largest.readableBytes + 1)
        try await store.set(Self.key("large"), value: large)
        #expect(try await store.get(Self.key("large"))?.joined == large)
        #expect(await store.statistics.readCacheBytes == 0, "a value above the cache's limit was kept")
    }

    @Test func supersededAndDeletedVersionsAreFreedOnTheirNodes() async throws {
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        func storedBytes() async -> Int { await totalStoredBytes(of: nodes) }
        let value = ByteBuffer(bytes: (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try await store.set(Self.key("kept"), value: value)
        await store.collectGarbage()
        let oneVersion = await storedBytes()
        for _ in 0..<5 { try await store.set(Self.key("kept"), value: value) }
        try await store.set(Self.key("deleted"), value: value)
        #expect(try await store.delete(Self.key("deleted")))
        #expect(await storedBytes() > oneVersion)
        await store.collectGarbage()
        #expect(await storedBytes() == oneVersion)
        #expect(try await store.get(Self.key("kept"))?.joined == value)
    }

    @Test func aReadFinishesWithTheVersionItFoundThoughItIsOverwrittenAndCollectedMeanwhile() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        func storedBytes() async -> Int { await totalStoredBytes(of: nodes) }
        let old = ByteBuffer(bytes: SampleData.random(50_000, seed: 1))
        try await store.set(Self.key("k"), value: old)
        await store.collectGarbage()
        let oneVersion = await storedBytes()

        for node in nodes { await node.close() }
        let read = Task { try await store.get(Self.key("k"))?.joined }
        var waiting = 0
        for _ in 0..<500 where waiting < 4 {
            try await Task.sleep(for: .milliseconds(5))
            waiting = 0
            for node in nodes { waiting += await node.waitingReads }
        }
        #expect(waiting >= 4, "the read never reached the nodes")

        try await store.set(Self.key("k"), value: ByteBuffer(bytes: SampleData.random(50_000, seed: 2)))
        await store.collectGarbage()
        #expect(await storedBytes() == 2 * oneVersion, "the version being read was freed under the read")
        for node in nodes { await node.open() }
        #expect(try await read.value == old)
        await store.collectGarbage()
        #expect(await storedBytes() == oneVersion, "the old version was kept after its read ended")
    }

    @Test func aLongValueReadForAReplyLeavesItsStripesToBeReadAsItIsWritten() async throws {
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        // 4 data shards of at most 16 KiB: 64 KiB stripes, so this value has 11.
        let store = try Self.makeStore(nodes: nodes, shardLength: 16 << 10)
        let stripeLength = 64 << 10
        func storedBytes() async -> Int { await totalStoredBytes(of: nodes) }
        let old = SampleData.random(700_000, seed: 11)
        try await store.set(Self.key("long"), value: ByteBuffer(bytes: old))
        let oneVersion = await storedBytes()
        let budget = ByteBudget(capacity: 1 << 30)
        let memory = ClientMemory(budget: budget, mayWait: true)

        var value = try #require(try await store.get(Self.key("long"), memory: memory))
        #expect(value.readableBytes == old.count)
        #expect(value.parts.reduce(0) { $0 + $1.readableBytes } == stripeLength, "only the first stripe is read at once")
        #expect(value.remainingStripes?.stripes == 1..<11)
        #expect(budget.reservedBytes == ObjectStore.streamedStripeCount * stripeLength, "the reply holds two stripes, not the value")

        // The key changes and its old version is collected before the stripes are read.
        try await store.set(Self.key("long"), value: ByteBuffer(bytes: SampleData.random(700_000, seed: 12)))
        await store.collectGarbage()
        #expect(await storedBytes() == 2 * oneVersion, "the version being streamed was freed")
        var replies = ReplyBuffer(allocator: ByteBufferAllocator())
        replies.writeBulkString(value)
        #expect(replies.readableBytes == value.readableBytes + "$700000\r\n\r\n".utf8.count)
        var written = ByteBuffer()
        var writes = 0
        try await replies.write { buffers in
            writes += 1
            for buffer in buffers { written.writeImmutableBuffer(buffer) }
        }
        #expect(writes == 12, "the header with the first stripe, one write per remaining stripe, then the end")
        var expected = ByteBuffer()
        expected.writeBulkString(ByteBuffer(bytes: old))
        #expect(written == expected)

        // Once the reply is gone, the version is unpinned and collected.
        replies.clear()
        value = ValueBytes(ByteBuffer())
        for _ in 0..<200 where await storedBytes() > oneVersion {
            try await Task.sleep(for: .milliseconds(5))
            await store.collectGarbage()
        }
        #expect(await storedBytes() == oneVersion, "the streamed version was kept after its reply")
        #expect(budget.reservedBytes == 0)

        // A range within the value streams from the stripe it starts in.
        let ranged = try #require(try await store.get(Self.key("long"), range: 100_000..<650_000, memory: memory))
        #expect(ranged.parts.reduce(0) { $0 + $1.readableBytes } == 2 * stripeLength - 100_000)
        #expect(ranged.remainingStripes?.range == 2 * stripeLength..<650_000)

        // A read for the proxy's own use, without client memory, is whole.
        #expect(try await store.get(Self.key("long"))?.remainingStripes == nil)
        // Values of two stripes or fewer are read whole.
        try await store.set(Self.key("two"), value: ByteBuffer(bytes: SampleData.random(2 * stripeLength, seed: 13)))
        #expect(try await store.get(Self.key("two"), memory: memory)?.remainingStripes == nil)
    }

    @Test func aStripeThatCannotBeReadAfterTheReplyBeganFailsTheWrite() async throws {
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes, shardLength: 16 << 10)
        try await store.set(Self.key("long"), value: ByteBuffer(bytes: SampleData.random(300_000, seed: 14)))
        let memory = ClientMemory(budget: ByteBudget(capacity: 1 << 30), mayWait: true)
        let value = try #require(try await store.get(Self.key("long"), memory: memory))
        var replies = ReplyBuffer(allocator: ByteBufferAllocator())
        replies.writeBulkString(value)
        // More than p = 2 nodes are lost once the first stripe was read.
        for node in nodes.prefix(3) { await node.fail() }
        var written = 0
        await #expect(throws: (any Error).self) {
            try await replies.write { buffers in written += buffers.reduce(0) { $0 + $1.readableBytes } }
        }
        #expect(written > 0 && written < replies.readableBytes, "the reply began and stopped short")
    }

    @Test func scanReturnsEveryKeyPresentThroughoutDespiteChurn() async throws {
        let store = try Self.makeStore(nodes: (0..<6).map { InProcessChunkNode(id: $0) })
        let stable = (0..<500).map { "stable:\($0)" }
        for (index, name) in stable.enumerated() {
            try await store.set(Self.key(name), value: ByteBuffer(string: "v"))
            try await store.set(Self.key("churn:\(index)"), value: ByteBuffer(string: "v"))
        }
        var seen: [String: Int] = [:]
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            let page = await store.scan(from: cursor, count: 17)
            for key in page.keys { seen[String(buffer: key), default: 0] += 1 }
            cursor = page.next
            // Between calls: delete old keys, add new ones, and overwrite stable ones.
            for victim in (round * 40)..<(round * 40 + 40) { try await store.delete(Self.key("churn:\(victim)")) }
            try await store.set(Self.key("added:\(round)"), value: ByteBuffer(string: "v"))
            try await store.set(Self.key(stable[round % stable.count]), value: ByteBuffer(string: "w"))
            round += 1
        } while cursor != 0
        for name in stable { #expect(seen[name] == 1, "\(name)") }
    }

    @Test func expiredKeysAreInvisibleAtOnceAndSweptLater() async throws {
        let store = try Self.makeStore(nodes: (0..<6).map { InProcessChunkNode(id: $0) })
        for index in 0..<100 { try await store.set(Self.key("t:\(index)"), value: ByteBuffer(string: "v")) }
        try await store.set(Self.key("kept"), value: ByteBuffer(string: "v"))
        // TTLs are set after the slow part, storing chunks, with a margin for a loaded machine.
        let soon = store.now() + 1000
        for index in 0..<100 { #expect(try await store.updateExpiry(of: Self.key("t:\(index)"), to: .at(soon))) }
        #expect(await store.volatileCount == 100)
        #expect(await store.timeToLive(of: Self.key("t:0")) == .expiresAt(soon))
        while store.now() <= soon { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try await store.get(Self.key("t:0"))?.joined == nil)
        #expect(await store.timeToLive(of: Self.key("t:1")) == .missing)
        #expect(await store.keys() == [Self.key("kept")])
        var cycles = 0
        while await store.count > 1, cycles < 100 {
            await store.removeExpiredKeys()
            cycles += 1
        }
        #expect(await store.count == 1)
        #expect(await store.volatileCount == 0)
        #expect(await store.statistics.expiredKeys == 100)
    }

    @Test func conditionalWritesAndExpiryConditions() async throws {
        let store = try Self.makeStore(nodes: (0..<6).map { InProcessChunkNode(id: $0) })
        let key = Self.key("k")
        #expect(try await store.set(key, value: ByteBuffer(string: "1"), condition: .ifPresent) == false)
        #expect(try await store.set(key, value: ByteBuffer(string: "1"), condition: .ifAbsent))
        #expect(try await store.set(key, value: ByteBuffer(string: "2"), condition: .ifAbsent) == false)
        let later = store.now() + 60_000
        #expect(try await store.updateExpiry(of: key, to: .at(later), condition: .ifTTL) == false)
        #expect(try await store.updateExpiry(of: key, to: .at(later), condition: .ifGreater) == false)
        #expect(try await store.updateExpiry(of: key, to: .at(later), condition: .ifLess))
        #expect(try await store.updateExpiry(of: key, to: .at(later + 1), condition: .ifNoTTL) == false)
        try await store.set(key, value: ByteBuffer(string: "3"), expiry: .keep)
        #expect(await store.timeToLive(of: key) == .expiresAt(later))
        try await store.set(key, value: ByteBuffer(string: "4"))
        #expect(await store.timeToLive(of: key) == .persistent)
        #expect(try await store.updateExpiry(of: key, to: .at(store.now() - 1)))
        #expect(await store.contains(key) == false)
    }

    /// Nodes that lost their memory get back, byte for byte, the chunks only memory held (a coded
    /// value's parity, a replicated value's extra copies), rebuilt from the others; the chunks
    /// the COS holds are theirs to restore, so they are left alone.
    @Test func memoryOnlyChunksAreRebuiltOnNodesThatLostThem() async throws {
        let nodes = (0..<6).map { ForgetfulChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        // Version 1 is coded 4+2 in three stripes over nodes 1…5, 0 (node 0: parity, node 4: a
        // data shard); version 2 is replicated on nodes 2, 3, 4 (node 4: a second copy).
        let big = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await store.set(Self.key("big"), value: ByteBuffer(bytes: big))
        try await store.set(Self.key("small"), value: ByteBuffer(string: "small value"))
        let lost = [0: await nodes[0].forgetAll(), 4: await nodes[4].forgetAll()]
        let memoryOnly = lost.mapValues { chunks in
            chunks.filter { id, _ in id.shard >= (id.version == 1 ? 4 : 1) }
        }
        #expect(memoryOnly[0]?.count == 3 && memoryOnly[4]?.count == 1)

        #expect(await store.rebuildMemoryOnlyChunks(onNode: 0) == 3)
        #expect(await store.rebuildMemoryOnlyChunks(onNode: 4) == 1)
        #expect(await nodes[0].chunks == memoryOnly[0])
        #expect(await nodes[4].chunks == memoryOnly[4])
        #expect(await store.statistics.rebuiltChunks == 4)
        #expect(try await store.get(Self.key("big"))?.joined == ByteBuffer(bytes: big))
    }

    @Test func aChunkRebuiltForAVersionOverwrittenMeanwhileIsFreedWithIt() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        func storedBytes() async -> Int { await totalStoredBytes(of: nodes) }
        // Version 1, coded 4+2 in three stripes, has its parity shard 5 on node 0: memory only.
        try await store.set(Self.key("big"), value: ByteBuffer(bytes: SampleData.random(10_000, seed: 21)))
        let oneVersion = await storedBytes()
        await nodes[0].forget((0..<3).map { ChunkID(version: 1, stripe: $0, shard: 5) })

        // The rebuild's store waits on node 0 while the key is overwritten and the old version collected.
        await nodes[0].closeStores(of: 1)
        let rebuild = Task { await store.rebuildMemoryOnlyChunks(onNode: 0) }
        try await nodes[0].waitUntilAStoreWaits()
        #expect(await nodes[0].waitingStores == 1, "the rebuild never reached node 0")
        try await store.set(Self.key("big"), value: ByteBuffer(bytes: SampleData.random(10_000, seed: 22)))
        await store.collectGarbage()
        await nodes[0].open()
        #expect(await rebuild.value == 1, "stripes after the overwrite are not rebuilt")
        await store.collectGarbage()
        #expect(await storedBytes() == oneVersion, "a chunk of the overwritten version was left on node 0")
    }

    @Test func anAppendOvertakenByASetAppendsToTheNewValue() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        try await store.set(Self.key("k"), value: ByteBuffer(string: "old"))
        // The append's version 2 waits on the nodes while a SET commits version 3.
        for node in nodes { await node.closeStores(of: 2) }
        let append = Task { try await store.append(ByteBuffer(string: "+tail"), to: Self.key("k"), maximumLength: 100) }
        try await nodes[2].waitUntilAStoreWaits()
        try await store.set(Self.key("k"), value: ByteBuffer(string: "new"))
        for node in nodes { await node.open() }
        #expect(try await append.value == 8)
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "new+tail"))
        #expect(try await store.append(ByteBuffer(string: "!"), to: Self.key("k"), maximumLength: 8) == nil, "past the maximum length")
        await store.collectGarbage()
        let afterAppend = await totalStoredBytes(of: nodes)
        try await store.set(Self.key("k"), value: ByteBuffer(string: "new+tail"))
        await store.collectGarbage()
        #expect(afterAppend == (await totalStoredBytes(of: nodes)), "the append's first try was not freed")
    }

    /// A store over gated nodes whose first SET, of "k" to "a" (version 1), waits at the nodes.
    private static func storeWithTheFirstSetHeld() async throws -> (nodes: [GatedChunkNode], store: ObjectStore, first: Task<Bool, any Error>) {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try makeStore(nodes: nodes)
        for node in nodes { await node.closeStores(of: 1) }
        let first = Task { try await store.set(key("k"), value: ByteBuffer(string: "a")) }
        try await nodes[1].waitUntilAStoreWaits()
        return (nodes, store, first)
    }

    @Test func plainSetsArrivingWhileTheirKeyIsStoredAreMadeByStoringTheLastOne() async throws {
        // The first SET's version 1 waits at the nodes while three more SETs of the key arrive.
        let (nodes, store, first) = try await Self.storeWithTheFirstSetHeld()
        let others = ["b", "c", "d"].map { value in Task { try await store.set(Self.key("k"), value: ByteBuffer(string: value)) } }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await store.get(Self.key("k")) == nil, "nothing is visible before the first SET commits")
        for node in nodes { await node.open() }
        #expect(try await first.value)
        for other in others { #expect(try await other.value) }
        let value = try #require(try await store.get(Self.key("k"))?.joined).getString(at: 0, length: 1)
        #expect(["b", "c", "d"].contains(value))
        #expect(await store.lastVersion == 2, "the three SETs were not made as one version")
        await store.collectGarbage()
        let afterSets = await totalStoredBytes(of: nodes)
        try await store.set(Self.key("k"), value: ByteBuffer(string: "e"))
        await store.collectGarbage()
        #expect(afterSets == (await totalStoredBytes(of: nodes)), "one version of the key is left after the SETs")
    }

    @Test func aPipelinedRunOfOneKeyIsAbsorbedLikeAPlainSetAndARunOfTwoKeysIsNot() async throws {
        func pairs(_ pairs: [(String, String)]) -> [(key: ByteBuffer, value: ByteBuffer)] {
            pairs.map { (key: Self.key($0.0), value: ByteBuffer(string: $0.1)) }
        }
        // The first SET's version 1 waits at the nodes while a run of one key arrives.
        let (nodes, store, first) = try await Self.storeWithTheFirstSetHeld()
        let run = Task { await store.setEach(pairs([("k", "b"), ("k", "c")])) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await store.lastVersion == 1, "the run did not wait for the SET being stored")
        // A run of two keys does not wait: it is stored at once, as its own versions.
        let twoKeys = await store.setEach(pairs([("k", "x"), ("j", "y")]))
        #expect(twoKeys.allSatisfy { (try? $0.get()) != nil })
        #expect(await store.lastVersion == 3)
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "x"))
        for node in nodes { await node.open() }
        #expect(try await first.value)
        let outcomes = await run.value
        #expect(outcomes.count == 2 && outcomes.allSatisfy { (try? $0.get()) != nil })
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "c"), "the run's last value is not the key's")
        #expect(await store.lastVersion == 4, "the run was not stored as one version after the first SET")
    }

    @Test(.timeLimit(.minutes(1))) func plainSetsMadeTogetherShareTheFailureOfTheirStore() async throws {
        // The first SET's version 1 waits at the nodes; the version the others share cannot be stored.
        let (nodes, store, first) = try await Self.storeWithTheFirstSetHeld()
        for node in nodes { await node.failStores(of: 2) }
        let others = ["b", "c", "d"].map { value in Task { try await store.set(Self.key("k"), value: ByteBuffer(string: value)) } }
        try await Task.sleep(for: .milliseconds(100))
        for node in nodes { await node.open() }
        #expect(try await first.value)
        for other in others { await #expect(throws: (any Error).self) { try await other.value } }
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "a"))
        // The next plain SET is stored at once: nothing is left waiting.
        #expect(try await store.set(Self.key("k"), value: ByteBuffer(string: "e")))
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "e"))
    }

    @Test func appendsArrivingDuringAnUpdateAreMadeTogetherAsOneVersion() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        try await store.set(Self.key("k"), value: ByteBuffer(string: "v"))
        // The first append's version 2 waits at the nodes while three more arrive.
        for node in nodes { await node.closeStores(of: 2) }
        let first = Task { try await store.append(ByteBuffer(string: "a"), to: Self.key("k"), maximumLength: 4) }
        try await nodes[2].waitUntilAStoreWaits()
        let others = ["b", "c", "d"].map { suffix in
            Task { (suffix, try await store.append(ByteBuffer(string: suffix), to: Self.key("k"), maximumLength: 4)) }
        }
        try await Task.sleep(for: .milliseconds(100))
        for node in nodes { await node.open() }
        #expect(try await first.value == 2)
        var lengths: [String: Int?] = [:]
        for other in others {
            let (suffix, length) = try await other.value
            lengths[suffix] = length
        }
        // Two fit before the limit of 4 bytes; the one that does not is left out.
        #expect(lengths.values.compactMap { $0 }.sorted() == [3, 4] && lengths.values.filter { $0 == nil }.count == 1)
        let value = try #require(try await store.get(Self.key("k"))?.joined)
        for (suffix, length) in lengths {
            if let length { #expect(value.getString(at: length - 1, length: 1) == suffix) }
        }
        #expect(await store.lastVersion == 3, "the three appends were not made as one version")
    }

    @Test(.timeLimit(.minutes(1))) func appendsMadeTogetherShareTheFailureOfTheirStore() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        try await store.set(Self.key("k"), value: ByteBuffer(string: "v"))
        // The first append's version 2 waits at the nodes; the version the others share cannot be stored.
        for node in nodes {
            await node.closeStores(of: 2)
            await node.failStores(of: 3)
        }
        let first = Task { try await store.append(ByteBuffer(string: "a"), to: Self.key("k"), maximumLength: 100) }
        try await nodes[2].waitUntilAStoreWaits()
        let others = ["b", "c"].map { suffix in Task { try await store.append(ByteBuffer(string: suffix), to: Self.key("k"), maximumLength: 100) } }
        try await Task.sleep(for: .milliseconds(100))
        for node in nodes { await node.open() }
        #expect(try await first.value == 2)
        for other in others { await #expect(throws: (any Error).self) { try await other.value } }
        #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "va"))
        #expect(try await store.append(ByteBuffer(string: "d"), to: Self.key("k"), maximumLength: 100) == 3)
    }

    @Test func aLongAppendIsCodedStripeByStripeHoldingTwoStripes() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        // 4+2 with 64 KiB shards: 256 KiB stripes.
        let store = try Self.makeStore(nodes: nodes, shardLength: 64 << 10)
        let stripeLength = 256 << 10
        let old = SampleData.random(700_000, seed: 31)
        let suffix = SampleData.random(400_000, seed: 32)
        try await store.set(Self.key("long"), value: ByteBuffer(bytes: old))
        let budget = ByteBudget(capacity: 1 << 30)
        let memory = ClientMemory(budget: budget, mayWait: true)
        // The new version's stripes wait at the nodes: what the append holds meanwhile is two stripes.
        for node in nodes { await node.closeStores(of: 2) }
        let append = Task { try await store.append(ByteBuffer(bytes: suffix), to: Self.key("long"), maximumLength: 1 << 30, memory: memory) }
        try await nodes[2].waitUntilAStoreWaits()
        #expect(budget.reservedBytes == 2 * stripeLength)
        for node in nodes { await node.open() }
        #expect(try await append.value == 1_100_000)
        #expect(try await store.get(Self.key("long"))?.joined == ByteBuffer(bytes: old + suffix))
        #expect(budget.reservedBytes == 0)
    }

    @Test func aGetexOrGetdelOvertakenByAWriteActsOnTheValueWritten() async throws {
        let nodes = (0..<6).map { GatedChunkNode(id: $0) }
        let store = try Self.makeStore(nodes: nodes)
        func waitingReads() async -> Int {
            var waiting = 0
            for node in nodes { waiting += await node.waitingReads }
            return waiting
        }
        let farFuture = store.now() + 3_600_000
        // The read of "old" waits at the nodes while a write commits "new": with the TTL kept
        // (SET KEEPTTL, as APPEND does), with none, or with its own.
        let overtakingWrites: [(String, ObjectStore.ExpiryUpdate)] = [
            ("getex", .keep), ("getex", .clear), ("getdel", .keep), ("getdel", .at(farFuture + 1000)),
        ]
        for (name, kept) in overtakingWrites {
            try await store.set(Self.key("k"), value: ByteBuffer(string: "old"), expiry: .at(farFuture - 1000))
            for node in nodes { await node.close() }
            let read = Task {
                name == "getex"
                    ? try await store.getAndUpdateExpiry(Self.key("k"), expiry: .at(farFuture))
                    : try await store.getAndDelete(Self.key("k"))
            }
            for _ in 0..<500 where await waitingReads() == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try await store.set(Self.key("k"), value: ByteBuffer(string: "new"), expiry: kept)
            for node in nodes { await node.open() }
            let description = "\(name) overtaken by a SET with \(kept)"
            #expect(try await read.value?.joined == ByteBuffer(string: "new"), "\(description)")
            if name == "getex" {
                #expect(try await store.get(Self.key("k"))?.joined == ByteBuffer(string: "new"), "\(description)")
                #expect(await store.timeToLive(of: Self.key("k")) == .expiresAt(farFuture), "\(description)")
            } else {
                #expect(try await store.get(Self.key("k")) == nil, "\(description)")
            }
        }
    }

    @Test func readsPinOneVersionWhileOverwritesCommitBetweenStripes() async throws {
        let store = try Self.makeStore(nodes: (0..<6).map { InProcessChunkNode(id: $0) })
        // 4 KiB stripes: each value spans ten, and readers suspend between them.
        let length = 40 << 10
        try await store.set(Self.key("k"), value: ByteBuffer(repeating: 0, count: length))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 1...4 {
                group.addTask {
                    for round in 0..<25 {
                        let fill = UInt8(writer * 50 + round)
                        try await store.set(Self.key("k"), value: ByteBuffer(repeating: fill, count: length))
                    }
                }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<40 {
                        let value = try #require(try await store.get(Self.key("k"))?.joined)
                        let bytes = Array(value.readableBytesView)
                        #expect(bytes.count == length && Set(bytes).count == 1, "a read mixed versions: \(Set(bytes).sorted())")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func aRestartedStoreDeletesTheCOSObjectsOfChunksNoVersionOwns() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-sweep-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let storage = try await FileObjectStorage.create(root: root + "/cos")
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        func reopen() throws -> (MetadataLog, ObjectStore) {
            let (log, recovery) = try MetadataLog.open(directory: root + "/metadata")
            let store = ObjectStore(
                configuration: .init(geometry: try ErasureGeometry("4+2"), readCacheCapacity: 0),
                nodes: nodes,
                storage: storage,
                persistence: PersistenceTracker(),
                metadata: (log, recovery.state)
            )
            return (log, store)
        }
        func object(_ version: UInt64, shard: Int = 0) throws -> ObjectName {
            try ObjectName(NodeProtocol.storageName(version: version, stripe: 0, shard: shard))
        }

        var (log, store) = try reopen()
        #expect(await store.sweepOrphanedChunks() == 0, "a first start has nothing to sweep")
        try await store.set(Self.key("kept"), value: ByteBuffer(string: "value"))
        try log.close()
        // What a killed proxy leaves: the live version's chunk, chunks of a write it never
        // committed (version 2), and a name that is no chunk's.
        let stray = try ObjectName("chunks/00/not-a-chunk")
        for name in [try object(1), try object(2), try object(2, shard: 3), stray] {
            try await storage.put(name, bytes: ByteBuffer(string: "bytes"))
        }

        (log, store) = try reopen()
        // Versions above every one the previous run reserved belong to this run's writes.
        let newVersion: UInt64 = 1 << 40
        try await storage.put(try object(newVersion), bytes: ByteBuffer(string: "this run's"))
        #expect(await store.sweepOrphanedChunks() == 2)
        let left = try await storage.list(prefix: "chunks/")
        #expect(Set(left) == [try object(1), try object(newVersion), stray])
        #expect(await store.statistics.orphanedChunks == 2)
        #expect(try await store.get(Self.key("kept"))?.joined == ByteBuffer(string: "value"))
        try log.close()
    }

    @Test func aRestartedStoreFindsEveryLoggedChangeInItsMetadataLog() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-metadata-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let nodes = (0..<6).map { InProcessChunkNode(id: $0) }
        let large = ByteBuffer(bytes: (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        func reopen() throws -> (MetadataLog, MetadataRecovery, ObjectStore) {
            let (log, recovery) = try MetadataLog.open(directory: directory)
            let store = ObjectStore(
                configuration: .init(geometry: try ErasureGeometry("4+2"), maximumShardLength: 1024),
                nodes: nodes,
                metadata: (log, recovery.state)
            )
            return (log, recovery, store)
        }

        var (log, recovery, store) = try reopen()
        let deadline = store.now() + 3_600_000
        try await store.set(Self.key("large"), value: large)
        try await store.set(Self.key("overwritten"), value: ByteBuffer(string: "old"))
        try await store.set(Self.key("overwritten"), value: ByteBuffer(string: "new"))
        try await store.set(Self.key("deleted"), value: ByteBuffer(string: "gone"))
        #expect(try await store.delete(Self.key("deleted")))
        try await store.setAll([(Self.key("a"), ByteBuffer(string: "1")), (Self.key("b"), ByteBuffer(string: "2"))])
        #expect(try await store.updateExpiry(of: Self.key("a"), to: .at(deadline)))
        try await store.set(Self.key("flushed"), value: ByteBuffer(string: "x"))
        let keysBefore = await store.count
        try log.close()

        (log, recovery, store) = try reopen()
        #expect(await store.count == keysBefore)
        #expect(try await store.get(Self.key("large"))?.joined == large)
        #expect(try await store.get(Self.key("overwritten"))?.joined == ByteBuffer(string: "new"))
        #expect(try await store.get(Self.key("deleted"))?.joined == nil)
        #expect(try await store.get(Self.key("b"))?.joined == ByteBuffer(string: "2"))
        #expect(await store.timeToLive(of: Self.key("a")) == .expiresAt(deadline))
        // New versions continue above every version used before the restart.
        let oldVersions = recovery.state.entries.values.map(\.version)
        try await store.set(Self.key("after"), value: ByteBuffer(string: "restart"))
        try log.close()
        (log, recovery, store) = try reopen()
        let newVersion = try #require(recovery.state.entries[Array("after".utf8)]?.version)
        #expect(oldVersions.allSatisfy { $0 < newVersion })
        try await store.removeAll()
        try log.close()
        (log, recovery, store) = try reopen()
        #expect(await store.count == 0)
        try log.close()
    }
}

extension Array {
    /// The sum of `count` over the elements, each awaited in turn.
    fileprivate func asyncCount(_ count: (Element) async -> Int) async -> Int {
        var total = 0
        for element in self { total += await count(element) }
        return total
    }
}
