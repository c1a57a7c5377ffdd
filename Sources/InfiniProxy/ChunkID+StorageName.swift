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
        guard let file = storageName.rawValue.split(separator: "/").last else { return nil }
        let parts = file.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let version = UInt64(parts[0]), let stripe = Int(parts[1]), let shard = Int(parts[2]),
            NodeProtocol.storageName(version: version, stripe: stripe, shard: shard) == storageName.rawValue
        else { return nil }
        self.init(version: version, stripe: stripe, shard: shard)
    }
}
