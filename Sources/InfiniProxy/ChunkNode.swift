import InfiniNodeProtocol
public import NIOCore

/// The name of one chunk: versions are unique across the proxy, so version, stripe and shard
/// identify a chunk without the key.
public struct ChunkID: Hashable, Sendable, CustomStringConvertible {
    public var version: UInt64
    public var stripe: Int
    public var shard: Int

    public init(version: UInt64, stripe: Int, shard: Int) {
        self.version = version
        self.stripe = stripe
        self.shard = shard
    }

    public var description: String { "\(version)/\(stripe)/\(shard)" }

    /// Parses the `version/stripe/shard` form of ``description``.
    public init?(_ text: String) {
        guard let parts = NodeProtocol.parseChunkName(text) else { return nil }
        self.init(version: parts.version, stripe: parts.stripe, shard: parts.shard)
    }
}

/// A memory node as the proxy's data path sees it: somewhere to put, fetch and drop chunks.
public protocol ChunkNode: Sendable {
    /// The node's logical id.
    var id: Int { get }
    /// Keeps the chunk in the node's memory, and with `persist`, writes it through to the COS.
    func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) async throws
    /// The chunk's bytes, or nil if the node does not hold it.
    func fetch(_ chunk: ChunkID) async throws -> ByteBuffer?
    /// Drops the chunks from memory, and their COS writes not yet begun.
    ///
    /// - Returns: The chunks whose COS write was dropped before it began: they are not in the
    ///   COS, so there is nothing there to delete.
    func remove(_ chunks: [ChunkID]) async -> Set<ChunkID>
    /// Asks the node to start the COS writes it holds back (its write-behind) now.
    func flushWrites() async
    /// Which of `chunks` the node holds in memory; none if it cannot be asked.
    func held(_ chunks: [ChunkID]) async -> Set<ChunkID>
}

extension ChunkNode {
    public func flushWrites() async {}

    public func held(_ chunks: [ChunkID]) async -> Set<ChunkID> {
        var held = Set<ChunkID>()
        for chunk in chunks where (try? await fetch(chunk)) ?? nil != nil { held.insert(chunk) }
        return held
    }
}

/// A memory node inside the proxy's own process: chunks in a dictionary. It stands in for a
/// node process in tests of the data path, and can be made to fail on purpose.
public actor InProcessChunkNode: ChunkNode {
    public nonisolated let id: Int
    private var chunks: [ChunkID: ByteBuffer] = [:]
    private var isFailed = false

    public init(id: Int) { self.id = id }

    /// From now on every request fails, as if the node were gone; its memory is lost.
    public func fail() {
        isFailed = true
        chunks.removeAll()
    }

    public var storedBytes: Int { chunks.values.reduce(0) { $0 + $1.readableBytes } }

    public func store(_ chunk: ChunkID, bytes: ByteBuffer, persist: Bool) throws {
        guard !isFailed else { throw NodeUnavailable(node: id, reason: "failed on purpose") }
        chunks[chunk] = bytes
    }

    public func fetch(_ chunk: ChunkID) throws -> ByteBuffer? {
        guard !isFailed else { throw NodeUnavailable(node: id, reason: "failed on purpose") }
        return chunks[chunk]
    }

    public func remove(_ ids: [ChunkID]) -> Set<ChunkID> {
        for chunk in ids { chunks[chunk] = nil }
        return []
    }
}

/// A node could not be brought up or reached, and why.
public struct NodeUnavailable: Error, Hashable, Sendable, CustomStringConvertible {
    public var node: Int
    public var reason: String

    public init(node: Int, reason: String) {
        self.node = node
        self.reason = reason
    }

    public var description: String { "memory node \(node) is unavailable: \(reason)" }
}
