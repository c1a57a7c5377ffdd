import InfiniCOS
import InfiniNodeProtocol

extension ChunkID {
    /// The COS object the chunk's node writes it to.
    var storageName: ObjectName {
        get throws { try ObjectName(NodeProtocol.storageName(version: version, stripe: stripe, shard: shard)) }
    }
}
