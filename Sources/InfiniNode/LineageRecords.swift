import Crypto
import InfiniCOS
import InfiniNodeProtocol
import NIOCore

/// One change to the set of chunks a node holds durably.
public enum LineageOperation: Hashable, Sendable {
    /// A chunk's write to the COS completed; `size` is its length in bytes.
    case set(chunk: String, size: Int)
    /// The proxy removed a chunk.
    case delete(chunk: String)
}

/// A SHA-256 digest, the link between consecutive terms.
public struct LineageHash: Hashable, Sendable, CustomStringConvertible {
    static let byteCount = 32
    /// The hash term 1 follows.
    public static let genesis = LineageHash(bytes: [UInt8](repeating: 0, count: byteCount))

    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }

    init(of body: ByteBuffer) {
        self.init(bytes: body.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) })
    }

    public var description: String { bytes.prefix(6).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}

/// The operations a node made durable during one term, linked to the term before by that term's
/// hash. Stored as one COS object: the encoded body followed by its SHA-256, which is the term's
/// hash, so a term read back proves both its own integrity and its place in the chain.
struct LineageTerm: Hashable, Sendable {
    var node: Int
    /// Terms are numbered from 1 without gaps.
    var number: UInt64
    var previous: LineageHash
    var operations: [LineageOperation]

    private static let magic = "ISLT"

    /// The stored bytes and the term's hash.
    func encoded() -> (bytes: ByteBuffer, hash: LineageHash) {
        var body = ByteBuffer()
        LineageCoding.writeHeader(Self.magic, node: node, number: number, hash: previous, count: operations.count, into: &body)
        for operation in operations {
            switch operation {
            case .set(let chunk, let size):
                body.writeInteger(UInt8(1))
                LineageCoding.writeChunk(chunk, into: &body)
                body.writeInteger(UInt32(clamping: size))
            case .delete(let chunk):
                body.writeInteger(UInt8(2))
                LineageCoding.writeChunk(chunk, into: &body)
            }
        }
        return LineageCoding.sealed(body)
    }

    /// Decodes a stored term and its hash, checking its digest; never trusts a length in it.
    static func decoded(from stored: ByteBuffer) throws(LineageError) -> (term: LineageTerm, hash: LineageHash) {
        var (body, hash) = try LineageCoding.unsealed(stored)
        let header = try LineageCoding.readHeader(Self.magic, from: &body)
        var operations: [LineageOperation] = []
        for _ in 0..<header.count {
            switch body.readInteger(as: UInt8.self) {
            case 1:
                let chunk = try LineageCoding.readChunk(from: &body)
                guard let size = body.readInteger(as: UInt32.self) else { throw LineageError("a truncated term") }
                operations.append(.set(chunk: chunk, size: Int(size)))
            case 2:
                operations.append(.delete(chunk: try LineageCoding.readChunk(from: &body)))
            default:
                throw LineageError("an unknown operation in a term")
            }
        }
        guard body.readableBytes == 0 else { throw LineageError("trailing bytes in a term") }
        return (LineageTerm(node: header.node, number: header.number, previous: header.hash, operations: operations), hash)
    }

    init(node: Int, number: UInt64, previous: LineageHash, operations: [LineageOperation]) {
        self.node = node
        self.number = number
        self.previous = previous
        self.operations = operations
    }
}

/// A node's durable chunks as of one term, so recovery replays only the terms after it. It
/// carries that term's hash, and the next term links to it as it would to the term itself.
struct LineageSnapshot: Hashable, Sendable {
    var node: Int
    /// The last term it includes.
    var term: UInt64
    var termHash: LineageHash
    /// Chunk name → size in bytes.
    var chunks: [String: Int]

    private static let magic = "ISLS"

    func encoded() -> ByteBuffer {
        var body = ByteBuffer()
        LineageCoding.writeHeader(Self.magic, node: node, number: term, hash: termHash, count: chunks.count, into: &body)
        for (chunk, size) in chunks.sorted(by: { $0.key < $1.key }) {
            LineageCoding.writeChunk(chunk, into: &body)
            body.writeInteger(UInt32(clamping: size))
        }
        return LineageCoding.sealed(body).bytes
    }

    init(decoding stored: ByteBuffer) throws(LineageError) {
        var (body, _) = try LineageCoding.unsealed(stored)
        let header = try LineageCoding.readHeader(Self.magic, from: &body)
        var chunks: [String: Int] = [:]
        chunks.reserveCapacity(min(header.count, body.readableBytes / 8))
        for _ in 0..<header.count {
            let chunk = try LineageCoding.readChunk(from: &body)
            guard let size = body.readInteger(as: UInt32.self) else { throw LineageError("a truncated snapshot") }
            chunks[chunk] = Int(size)
        }
        guard body.readableBytes == 0 else { throw LineageError("trailing bytes in a snapshot") }
        self.init(node: header.node, term: header.number, termHash: header.hash, chunks: chunks)
    }

    init(node: Int, term: UInt64, termHash: LineageHash, chunks: [String: Int]) {
        self.node = node
        self.term = term
        self.termHash = termHash
        self.chunks = chunks
    }
}

/// Where a node's lineage lives in the COS: `lineage/NODE/terms/NUMBER` and
/// `lineage/NODE/snapshots/TERM`, numbers zero-padded to 20 digits so that listing order is
/// numeric order.
enum LineageNames {
    static func termsPrefix(node: Int) -> String { "lineage/\(node)/terms/" }
    static func snapshotsPrefix(node: Int) -> String { "lineage/\(node)/snapshots/" }

    static func term(_ number: UInt64, node: Int) -> ObjectName {
        // The prefix and digits always form a valid name.
        try! ObjectName(termsPrefix(node: node) + padded(number))
    }

    static func snapshot(_ term: UInt64, node: Int) -> ObjectName {
        try! ObjectName(snapshotsPrefix(node: node) + padded(term))
    }

    /// The number at the end of a term or snapshot name; nil for any other name.
    static func number(in name: ObjectName, prefix: String) -> UInt64? {
        guard name.rawValue.hasPrefix(prefix) else { return nil }
        let digits = name.rawValue.dropFirst(prefix.count)
        guard digits.count == 20 else { return nil }
        return UInt64(digits)
    }

    private static func padded(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: 20 - digits.count) + digits
    }
}

/// A lineage object that cannot be used, and why.
struct LineageError: Error, Hashable, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The framing terms and snapshots share: a magic, a version byte, the node, a number, a hash and
/// an entry count, then the entries, then a SHA-256 of everything before it.
private enum LineageCoding {
    static let version: UInt8 = 1

    static func writeHeader(_ magic: String, node: Int, number: UInt64, hash: LineageHash, count: Int, into body: inout ByteBuffer) {
        body.writeString(magic)
        body.writeInteger(version)
        body.writeInteger(UInt32(clamping: node))
        body.writeInteger(number)
        body.writeBytes(hash.bytes)
        body.writeInteger(UInt32(clamping: count))
    }

    static func readHeader(_ magic: String, from body: inout ByteBuffer) throws(LineageError) -> (node: Int, number: UInt64, hash: LineageHash, count: Int) {
        guard body.readString(length: magic.utf8.count) == magic, body.readInteger(as: UInt8.self) == version,
            let node = body.readInteger(as: UInt32.self), let number = body.readInteger(as: UInt64.self),
            let hash = body.readBytes(length: LineageHash.byteCount), let count = body.readInteger(as: UInt32.self)
        else { throw LineageError("not a lineage \(magic == "ISLT" ? "term" : "snapshot")") }
        return (Int(node), number, LineageHash(bytes: hash), Int(count))
    }

    static func writeChunk(_ chunk: String, into body: inout ByteBuffer) {
        body.writeInteger(UInt16(clamping: chunk.utf8.count))
        body.writeString(chunk)
    }

    static func readChunk(from body: inout ByteBuffer) throws(LineageError) -> String {
        guard let length = body.readInteger(as: UInt16.self), let chunk = body.readString(length: Int(length)),
            NodeProtocol.parseChunkName(chunk) != nil
        else { throw LineageError("a bad chunk name in lineage") }
        return chunk
    }

    static func sealed(_ body: ByteBuffer) -> (bytes: ByteBuffer, hash: LineageHash) {
        let hash = LineageHash(of: body)
        var stored = body
        stored.writeBytes(hash.bytes)
        return (stored, hash)
    }

    static func unsealed(_ stored: ByteBuffer) throws(LineageError) -> (body: ByteBuffer, hash: LineageHash) {
        guard stored.readableBytes >= LineageHash.byteCount,
            let body = stored.getSlice(at: stored.readerIndex, length: stored.readableBytes - LineageHash.byteCount),
            let digest = stored.getBytes(at: stored.readerIndex + body.readableBytes, length: LineageHash.byteCount)
        else { throw LineageError("a lineage object too short to hold its digest") }
        let hash = LineageHash(bytes: digest)
        guard LineageHash(of: body) == hash else { throw LineageError("a lineage object whose digest does not match") }
        return (body, hash)
    }
}
