import InfiniCOS
import InfiniNodeProtocol

extension ChunkID {
    /// The COS object the chunk's node writes it to.
    var storageName: ObjectName {
        get throws { try ObjectName(NodeProtocol.storageName(version: version, stripe: stripe, shard: shard)) }
    }
}

extension ChunkID {
    /// The chunk a COS object of ``storageName`` holds; nil for any other name.
    init?(storageName: ObjectName) {
        guard let parts = NodeProtocol.parseStorageName(storageName.rawValue) else { return nil }
        self.init(version: parts.version, stripe: parts.stripe, shard: parts.shard)
    }
}
