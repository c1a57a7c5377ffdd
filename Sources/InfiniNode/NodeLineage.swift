public import InfiniCOS
import NIOCore
import Synchronization

/// A node's lineage: the append-only log of the chunks it made durable and removed, kept in the
/// COS as hash-chained terms with a snapshot every ``snapshotInterval`` terms. A node whose
/// memory is gone reads it back to learn which chunks it held, and pulls them from the COS.
///
/// Operations are recorded from any thread as they happen; ``closeTerm()`` writes those recorded
/// since the last term as the next term. Term writes run one at a time, in order.
public actor NodeLineage {
    /// What reading a lineage back found.
    public struct Recovery: Hashable, Sendable {
        /// The last term of the chain, 0 when there is none.
        public var head: UInt64 = 0
        public var headHash = LineageHash.genesis
        /// The term of the snapshot recovery started from, 0 for none.
        public var snapshotTerm: UInt64 = 0
        /// The chunks the node held durably as of `head`: name → size.
        public var chunks: [String: Int] = [:]
        public var termsReplayed = 0
        /// Why the chain ends before the last stored term, if it does: the chunks are those of
        /// the intact part.
        public var problem: String?
    }

    /// Snapshot every this many terms; measured in BENCHMARKS.md ("Node lineage").
    public static let defaultSnapshotInterval = 32
    /// Lineage objects read or removed at once.
    static let requestConcurrency = 16

    public nonisolated let node: Int
    public let snapshotInterval: Int
    private let storage: any ObjectStorage
    private var head: UInt64
    private var headHash: LineageHash
    private var snapshotTerm: UInt64
    private var chunks: [String: Int]
    private nonisolated let pending = Mutex<[LineageOperation]>([])
    private var lastClose: Task<Void, any Error>?

    private init(node: Int, storage: any ObjectStorage, snapshotInterval: Int, recovery: Recovery) {
        self.node = node
        self.storage = storage
        self.snapshotInterval = max(1, snapshotInterval)
        head = recovery.head
        headHash = recovery.headHash
        snapshotTerm = recovery.snapshotTerm
        chunks = recovery.chunks
    }

    /// Reads node `node`'s lineage back and continues it. A chain broken part-way (a term lost
    /// or altered) is cut at the break: the stored terms after it are removed and a snapshot of
    /// the intact part starts the chain afresh.
    public static func open(
        node: Int,
        storage: any ObjectStorage,
        snapshotInterval: Int = defaultSnapshotInterval
    ) async throws -> (lineage: NodeLineage, recovery: Recovery) {
        let (recovery, staleTerms) = try await recover(node: node, storage: storage)
        let lineage = NodeLineage(node: node, storage: storage, snapshotInterval: snapshotInterval, recovery: recovery)
        if recovery.problem != nil || recovery.termsReplayed >= snapshotInterval {
            try? await storage.delete(staleTerms.map { LineageNames.term($0, node: node) })
            try await lineage.writeSnapshot()
        }
        return (lineage, recovery)
    }

    /// What node `node`'s lineage in `storage` lists, read without changing anything.
    public static func read(node: Int, storage: any ObjectStorage) async throws -> Recovery {
        try await recover(node: node, storage: storage).0
    }

    /// Notes an operation for the next term.
    public nonisolated func record(_ operation: LineageOperation) {
        pending.withLock { $0.append(operation) }
    }

    /// Operations recorded but not yet in a stored term.
    public nonisolated var pendingCount: Int { pending.withLock { $0.count } }

    /// The last stored term's number.
    public var headTerm: UInt64 { head }

    /// Writes the operations recorded since the last term as the next term, and a snapshot when
    /// one is due. With nothing recorded it writes nothing. If the COS refuses the term, the
    /// operations stay recorded for the next attempt.
    public func closeTerm() async throws {
        let previous = lastClose
        let close = Task {
            _ = await previous?.result
            try await writeTerm()
        }
        lastClose = close
        try await close.value
    }

    private func writeTerm() async throws {
        let operations = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        guard !operations.isEmpty else { return }
        let term = LineageTerm(node: node, number: head + 1, previous: headHash, operations: operations)
        let (bytes, hash) = term.encoded()
        do {
            try await storage.put(LineageNames.term(term.number, node: node), bytes: bytes)
        } catch {
            pending.withLock { $0.insert(contentsOf: operations, at: 0) }
            throw error
        }
        head = term.number
        headHash = hash
        Self.apply(operations, to: &chunks)
        // A snapshot that fails is retried after the next term; the terms still hold everything.
        if head - snapshotTerm >= UInt64(snapshotInterval) { try? await writeSnapshot() }
    }

    /// Stores the chunks as of the head term, then removes the terms and snapshot it replaces;
    /// a removal that fails costs only space, since recovery skips terms a snapshot covers.
    private func writeSnapshot() async throws {
        let snapshot = LineageSnapshot(node: node, term: head, termHash: headHash, chunks: chunks)
        try await storage.put(LineageNames.snapshot(head, node: node), bytes: snapshot.encoded())
        let replaced = snapshotTerm
        snapshotTerm = head
        guard replaced < head else { return }
        var names = ((replaced + 1)...head).map { LineageNames.term($0, node: node) }
        if replaced > 0 { names.append(LineageNames.snapshot(replaced, node: node)) }
        try? await storage.delete(names)
    }

    private static func apply(_ operations: [LineageOperation], to chunks: inout [String: Int]) {
        for operation in operations {
            switch operation {
            case .set(let chunk, let size): chunks[chunk] = size
            case .delete(let chunk): chunks[chunk] = nil
            }
        }
    }

    /// The newest readable snapshot, then every term after it as long as each links to the one
    /// before. Also returns the stored terms past a break.
    private static func recover(node: Int, storage: any ObjectStorage) async throws -> (Recovery, staleTerms: [UInt64]) {
        var recovery = Recovery()
        var problems: [String] = []
        let snapshotsPrefix = LineageNames.snapshotsPrefix(node: node)
        let snapshots = try await storage.list(prefix: snapshotsPrefix).compactMap { LineageNames.number(in: $0, prefix: snapshotsPrefix) }
        for term in snapshots.reversed() {
            do {
                guard let stored = try await storage.get(LineageNames.snapshot(term, node: node)) else { continue }
                let snapshot = try LineageSnapshot(decoding: stored)
                guard snapshot.node == node, snapshot.term == term else { throw LineageError("it belongs elsewhere") }
                recovery.head = term
                recovery.headHash = snapshot.termHash
                recovery.snapshotTerm = term
                recovery.chunks = snapshot.chunks
                break
            } catch let error as LineageError {
                problems.append("snapshot \(term) is unusable: \(error)")
            }
        }
        let termsPrefix = LineageNames.termsPrefix(node: node)
        let terms = try await storage.list(prefix: termsPrefix)
            .compactMap { LineageNames.number(in: $0, prefix: termsPrefix) }
            .filter { $0 > recovery.head }
        let stored = try await read(terms.map { LineageNames.term($0, node: node) }, from: storage)
        var replayed = 0
        for (number, bytes) in zip(terms, stored) {
            guard number == recovery.head + 1 else {
                problems.append("term \(recovery.head + 1) is missing")
                break
            }
            guard let bytes, let (term, hash) = try? LineageTerm.decoded(from: bytes), term.node == node, term.number == number,
                term.previous == recovery.headHash
            else {
                problems.append("term \(number) does not follow term \(recovery.head)")
                break
            }
            apply(term.operations, to: &recovery.chunks)
            recovery.head = number
            recovery.headHash = hash
            replayed += 1
        }
        recovery.termsReplayed = replayed
        recovery.problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        return (recovery, terms.filter { $0 > recovery.head })
    }

    /// The objects' bytes, in order.
    private static func read(_ names: [ObjectName], from storage: any ObjectStorage) async throws -> [ByteBuffer?] {
        try await mapConcurrently(names, limit: requestConcurrency) { try await storage.get($0) }
    }
}
