import Foundation

/// The JSON event the proxy sends when it invokes a memory node, and the JSON the node returns.
///
/// The same bytes travel through the Lambda Invoke API in AWS and through the local invoker's
/// Runtime API endpoint, so a node cannot tell the two apart.
public struct InvocationEvent: Codable, Hashable, Sendable {
    public enum Command: String, Codable, Sendable {
        /// Connect to the proxy and serve requests until idle.
        case ping
        /// Keep-alive: return at once so the platform keeps the sandbox.
        case warmup
    }

    public var nodeID: Int
    /// `host:port` of the proxy's node port.
    public var proxyAddress: String
    /// Identifies this invocation; a link of an older invocation is refused.
    public var session: String
    /// The per-invocation secret every link must present.
    public var token: String
    public var command: Command
    /// How long the node may hold a chunk's COS write back, in milliseconds, so a chunk the
    /// proxy drops within it is never written; absent or 0 writes at once.
    public var writeBehindMilliseconds: Int?

    public init(
        nodeID: Int,
        proxyAddress: String,
        session: String,
        token: String,
        command: Command,
        writeBehindMilliseconds: Int? = nil
    ) {
        self.nodeID = nodeID
        self.proxyAddress = proxyAddress
        self.session = session
        self.token = token
        self.command = command
        self.writeBehindMilliseconds = writeBehindMilliseconds
    }

    public func encoded() -> [UInt8] {
        (try? Array(JSONEncoder().encode(self))) ?? []
    }

    public init(decoding bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(bytes))
    }

    /// A fresh random token or session id: 128 bits as hex.
    public static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// What a node reports when an invocation ends.
public struct InvocationOutcome: Codable, Hashable, Sendable {
    public var nodeID: Int
    public var chunks: Int
    public var bytes: Int
    public var requests: Int
    /// Chunks the node brought back from the COS during the invocation, as its lineage listed
    /// them, after finding its memory gone.
    public var restoredChunks: Int
    /// Whether this was the first invocation of a new sandbox (locally, a new process), whose
    /// memory began empty whatever the node held before.
    public var startedEmpty: Bool

    public init(nodeID: Int, chunks: Int, bytes: Int, requests: Int, restoredChunks: Int = 0, startedEmpty: Bool = false) {
        self.nodeID = nodeID
        self.chunks = chunks
        self.bytes = bytes
        self.requests = requests
        self.restoredChunks = restoredChunks
        self.startedEmpty = startedEmpty
    }

    public func encoded() -> [UInt8] {
        (try? Array(JSONEncoder().encode(self))) ?? []
    }

    public init(decoding bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(bytes))
    }
}
