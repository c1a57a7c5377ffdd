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
/// A node with a COS writes every chunk through to it, except those stored with `MEMORY`, and
/// then sends the push `>2 PERSISTED <chunk>`, or `>3 PERSISTFAILED <chunk> <reason>` when it
/// gave up; it does not return while writes are pending, so every notice arrives before its `BYE`.
///
/// A node restoring its chunks from its lineage says so with `>3 RESTORING <chunks> <bytes>`
/// once linked, and `>1 RESTORED` when done. Meanwhile the proxy may make other nodes helpers
/// (`CHELP`) and send them the reads of its chunks (`CGET` naming the helped node).
public enum NodeProtocol {
    public static let hello = "NODE-HELLO"
    public static let bye = "BYE"
    public static let persisted = "PERSISTED"
    public static let persistFailed = "PERSISTFAILED"
    public static let restoring = "RESTORING"
    public static let restored = "RESTORED"
    /// The flag of a chunk kept in node memory only: a parity chunk, which the data chunks in the
    /// COS can always rebuild.
    public static let memoryOnly = "MEMORY"

    /// Request commands.
    public enum Command: String, Sendable {
        /// `CSET id chunk bytes [MEMORY]` → `+OK`
        case set = "CSET"
        /// `CGET id chunk [helpedNode]` → bulk bytes, or null when the node does not hold it;
        /// with `helpedNode`, from the chunks it holds as that node's helper
        case get = "CGET"
        /// `CDEL id chunk…` → array of the chunks whose COS write was dropped before it began
        case delete = "CDEL"
        /// `CPING id` → `+PONG`
        case ping = "CPING"
        /// `CHELP id node partition partitions` → `+OK`: load, from node `node`'s lineage, the
        /// chunks in hash partition `partition` of `partitions`, and serve reads of them
        case help = "CHELP"
        /// `CUNHELP id node` → integer count of helped chunks dropped
        case unhelp = "CUNHELP"
        /// `CHAS id chunk…` → array of the chunks the node holds in memory
        case has = "CHAS"
        /// `CFLUSH id` → `+OK`: start every COS write held back (write-behind) now
        case flush = "CFLUSH"
    }

    /// The hash partition a chunk's recovery helper serves: FNV-1a of its wire name, modulo
    /// `partitions`, the same on the proxy and on every node.
    public static func helperPartition(ofChunk name: some Sequence<UInt8>, partitions: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(max(1, partitions)))
    }

    /// The COS object a node writes a chunk to: `chunks/XY/VERSION-STRIPE-SHARD`, with `XY` the
    /// version's low byte in hex. Chunk names are unique for good, so nodes never overwrite one
    /// another. The 256 directories are made once and reused, so storing a chunk in the file COS
    /// never creates a directory (creating inodes is what a local disk spends most on) and
    /// deleting one never leaves an empty directory behind; on S3 the spread prefixes share load.
    public static func storageName(version: UInt64, stripe: Int, shard: Int) -> String {
        // Written byte by byte: a node names every chunk it stores, and interpolation with a
        // radix cost a tenth of a node's time per store.
        var name = [UInt8]()
        name.reserveCapacity(chunkStoragePrefix.utf8.count + 3 + 20 + 2 * 12)
        name.append(contentsOf: chunkStoragePrefix.utf8)
        name.append(hexDigits[Int(version >> 4 & 0xF)])
        name.append(hexDigits[Int(version & 0xF)])
        name.append(UInt8(ascii: "/"))
        appendDecimal(version, to: &name)
        name.append(UInt8(ascii: "-"))
        appendDecimal(UInt64(stripe), to: &name)
        name.append(UInt8(ascii: "-"))
        appendDecimal(UInt64(shard), to: &name)
        return String(decoding: name, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    /// What the COS names of all chunks start with.
    public static let chunkStoragePrefix = "chunks/"

    /// The parts of a chunk's COS name, the inverse of ``storageName(version:stripe:shard:)``;
    /// nil for any other name.
    public static func parseStorageName(_ name: String) -> (version: UInt64, stripe: Int, shard: Int)? {
        guard let file = name.split(separator: "/").last, let parts = chunkParts(file, separator: "-"),
            storageName(version: parts.version, stripe: parts.stripe, shard: parts.shard) == name
        else { return nil }
        return parts
    }

    /// ``storageName(version:stripe:shard:)`` of a chunk named `version/stripe/shard` on the
    /// wire; nil for any other name.
    public static func storageName(ofChunk chunk: String) -> String? {
        parseChunkName(chunk).map { storageName(version: $0.version, stripe: $0.stripe, shard: $0.shard) }
    }

    /// The parts of a chunk named `version/stripe/shard` on the wire; nil for any other name.
    public static func parseChunkName(_ chunk: String) -> (version: UInt64, stripe: Int, shard: Int)? {
        chunkParts(Substring(chunk), separator: "/")
    }

    /// `version`, `stripe` and `shard` in decimal digits joined by `separator`.
    private static func chunkParts(_ text: Substring, separator: Character) -> (version: UInt64, stripe: Int, shard: Int)? {
        guard let separator = separator.asciiValue else { return nil }
        // The numbers before the current one: at most two, so no array.
        var (first, second): (UInt64?, UInt64?) = (nil, nil)
        var current: UInt64 = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == separator {
                guard digits > 0, second == nil else { return nil }
                if first == nil { first = current } else { second = current }
                (current, digits) = (0, 0)
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (times10, overflow1) = current.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            (current, digits) = (sum, digits + 1)
        }
        guard digits > 0, let version = first, let second, let stripe = Int(exactly: second), let shard = Int(exactly: current)
        else { return nil }
        return (version, stripe, shard)
    }

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
