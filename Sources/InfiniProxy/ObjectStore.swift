public import InfiniCoding
public import NIOCore

/// Stores values erasure-coded over memory nodes: the proxy's data path.
///
/// SET codes the value stripe by stripe and stores each stripe's `d + p` chunks on `d + p`
/// distinct nodes in parallel; the new version becomes visible at one commit point, after all
/// its chunks are stored, so readers see either the old or the new value. GET pins the version
/// it found, asks all `d + p` nodes for each stripe, decodes from the first `d` valid chunks
/// and drops the rest. Values below ``smallObjectThreshold`` are replicated on `1 + p` nodes.
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
    }

    public let configuration: Configuration
    private let nodes: [any ChunkNode]
    private var entries: [ByteBuffer: Entry] = [:]
    private var lastVersion: UInt64 = 0

    /// - Precondition: at least `d + p` nodes, so every chunk of an object is on its own node.
    public init(configuration: Configuration, nodes: [any ChunkNode]) {
        precondition(nodes.count >= configuration.geometry.totalShards, "fewer nodes than chunks per object")
        self.configuration = configuration
        self.nodes = nodes
    }

    public var count: Int { entries.count }

    public func contains(_ key: ByteBuffer) -> Bool { entries[key] != nil }

    public func length(of key: ByteBuffer) -> Int? { entries[key]?.descriptor.length }

    public func keys() -> [ByteBuffer] { Array(entries.keys) }

    /// Stores `value` under `key` as a new version and makes it visible once every chunk is stored.
    public func set(_ key: ByteBuffer, value: ByteBuffer) async throws {
        lastVersion += 1
        let version = lastVersion
        let geometry =
            value.readableBytes < configuration.smallObjectThreshold
            ? try ErasureGeometry(dataShards: 1, parityShards: configuration.geometry.parityShards)
            : configuration.geometry
        let placement = (0..<geometry.totalShards).map { (Int(version) + $0) % nodes.count }
        var encoder = ObjectEncoder(
            maximumShardLength: configuration.maximumShardLength,
            compression: configuration.compression
        )
        let descriptor = encoder.descriptor(
            keyHash: KeyHash.of(key.readableBytesView),
            version: version,
            length: value.readableBytes,
            geometry: geometry
        )
        for stripe in 0..<descriptor.stripeCount {
            let range = descriptor.byteRange(ofStripe: stripe)
            var chunks = [[UInt8]]()
            value.withUnsafeReadableBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[range]).bytes
                encoder.encodeStripe(stripe, of: descriptor, bytes: bytes)
            }
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
        let previous = entries.updateValue(Entry(descriptor: descriptor, placement: placement), forKey: key)
        if let previous { discard(previous) }
    }

    /// The committed value of `key`, or nil if there is none.
    public func get(_ key: ByteBuffer) async throws -> ByteBuffer? {
        guard let entry = entries[key] else { return nil }
        var output = ByteBufferAllocator().buffer(capacity: entry.descriptor.length)
        var decoder = ObjectDecoder()
        for stripe in 0..<entry.descriptor.stripeCount {
            decoder.beginStripe(stripe, of: entry.descriptor)
            let chunks = try await firstChunks(of: entry, stripe: stripe)
            for chunk in chunks { try decoder.addChunk(chunk.span.bytes) }
            try decoder.finishStripe { bytes in
                bytes.withUnsafeBytes { _ = output.writeBytes($0) }
            }
        }
        return output
    }

    /// Asks every node holding a chunk of the stripe and returns the first `d` valid chunks to
    /// arrive; the other requests are cancelled and their answers dropped. A node that fails or
    /// sends a bad chunk costs nothing while `d` good ones remain.
    private func firstChunks(of entry: Entry, stripe: Int) async throws -> [[UInt8]] {
        let descriptor = entry.descriptor
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            for (shard, nodeIndex) in entry.placement.enumerated() {
                let node = nodes[nodeIndex]
                let id = ChunkID(version: descriptor.version, stripe: stripe, shard: shard)
                group.addTask { try? await node.fetch(id) }
            }
            var accepted = [[UInt8]]()
            for try await chunk in group {
                guard let chunk, Self.chunk(chunk, belongsTo: descriptor, stripe: stripe) else { continue }
                accepted.append(chunk)
                if accepted.count == descriptor.geometry.dataShards {
                    group.cancelAll()
                    break
                }
            }
            return accepted
        }
    }

    private static func chunk(_ bytes: [UInt8], belongsTo descriptor: ObjectDescriptor, stripe: Int) -> Bool {
        guard let header = try? ChunkHeader.validate(chunk: bytes.span.bytes) else { return false }
        return header.keyHash == descriptor.keyHash && header.objectVersion == descriptor.version
            && header.stripeIndex == stripe
    }

    /// Removes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: ByteBuffer) -> Bool {
        guard let entry = entries.removeValue(forKey: key) else { return false }
        discard(entry)
        return true
    }

    /// Removes every key.
    public func removeAll() {
        let all = entries.values
        entries.removeAll()
        for entry in all { discard(entry) }
    }

    /// Frees a superseded or deleted version's chunks on their nodes, in the background.
    private func discard(_ entry: Entry) {
        let nodes = self.nodes
        Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for (shard, nodeIndex) in entry.placement.enumerated() {
                    let ids = (0..<entry.descriptor.stripeCount).map {
                        ChunkID(version: entry.descriptor.version, stripe: $0, shard: shard)
                    }
                    group.addTask { await nodes[nodeIndex].remove(ids) }
                }
            }
        }
    }

    private static func chunkBytes(_ header: ChunkHeader, _ payload: RawSpan) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(ChunkHeader.size + payload.byteCount)
        header.withEncodedBytes { span in span.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        payload.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }
}
