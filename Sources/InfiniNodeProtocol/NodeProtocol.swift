/// The proxy ↔ node link protocol, framed in RESP so one parser serves both ports.
///
/// A node dials the proxy's node port and first sends `NODE-HELLO <nodeID> <session> <token>`;
/// the proxy answers `+OK` or drops the connection unread. Then the proxy sends requests, each an
/// array of bulk strings `[command, requestID, arguments…]`, and the node answers each with an
/// array `[requestID, result, usedBytes]`. Requests are matched by id, so several can be in flight.
/// An idle node asks to return with the push `>1 BYE` and keeps serving: the proxy closes the
/// link once no request of its own is on the way, which ends the invocation; a request that
/// crossed the `BYE` is simply answered, and the node asks again when idle once more.
///
/// A node with a COS writes every chunk through to it and then sends the push
/// `>2 PERSISTED <chunk>`, or `>3 PERSISTFAILED <chunk> <reason>` when it gave up; it does not
/// return while writes are pending, so every notice arrives before its `BYE`.
public enum NodeProtocol {
    public static let hello = "NODE-HELLO"
    public static let bye = "BYE"
    public static let persisted = "PERSISTED"
    public static let persistFailed = "PERSISTFAILED"

    /// Request commands.
    public enum Command: String, Sendable {
        /// `CSET id chunk bytes` → `+OK`
        case set = "CSET"
        /// `CGET id chunk` → bulk bytes, or null when the node does not hold it
        case get = "CGET"
        /// `CDEL id chunk…` → integer count removed
        case delete = "CDEL"
        /// `CPING id` → `+PONG`
        case ping = "CPING"
    }

    /// The COS object a node writes a chunk to: chunk names are unique for good, so the name is
    /// the chunk's and nodes never overwrite one another.
    public static func storageName(ofChunk chunk: String) -> String { "chunks/" + chunk }

    /// The largest chunk a link accepts: a shard of a stripe plus its header, with room to spare.
    public static let maximumFrameLength = 64 << 20

    /// Compares secrets in time independent of where they differ.
    public static func secretsMatch(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
