import COSTestSupport
import InfiniCOS
import NIOCore
import Testing

@testable import InfiniNode

/// The lineage's records and its chain in a COS: what is written is read back, a snapshot
/// replaces the terms before it, and a damaged chain is cut at the damage, never trusted past it.
@Suite(.timeLimit(.minutes(1))) struct NodeLineageTests {
    private static func chunk(_ version: Int, _ shard: Int = 0) -> String { "\(version)/0/\(shard)" }

    @Test func aTermReadsBackAndAnyChangedByteIsCaught() throws {
        let term = LineageTerm(
            node: 7,
            number: 3,
            previous: LineageHash(bytes: (0..<32).map { UInt8($0) }),
            operations: [.set(chunk: Self.chunk(1), size: 100), .delete(chunk: Self.chunk(2, 1)), .set(chunk: Self.chunk(3, 2), size: 0)]
        )
        let (bytes, hash) = term.encoded()
        let decoded = try LineageTerm.decoded(from: bytes)
        #expect(decoded.term == term)
        #expect(decoded.hash == hash)
        for index in 0..<bytes.readableBytes {
            var altered = bytes
            altered.setInteger(altered.getInteger(at: index, as: UInt8.self)! ^ 0x40, at: index)
            #expect(throws: LineageError.self) { try LineageTerm.decoded(from: altered) }
        }
        for length in 0..<bytes.readableBytes {
            #expect(throws: LineageError.self) { try LineageTerm.decoded(from: bytes.getSlice(at: 0, length: length)!) }
        }
    }

    @Test func garbageIsRefusedNeverTrusted() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let length = Int.random(in: 0..<200, using: &generator)
            var bytes = ByteBuffer(bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            // A valid digest over garbage, so decoding gets past the seal and meets the lengths.
            bytes.writeBytes(LineageHash(of: bytes).bytes)
            #expect(throws: LineageError.self) { try LineageTerm.decoded(from: bytes) }
            #expect(throws: LineageError.self) { try LineageSnapshot(decoding: bytes) }
        }
    }

    @Test func aSnapshotReadsBack() throws {
        let snapshot = LineageSnapshot(node: 2, term: 40, termHash: .genesis, chunks: [Self.chunk(1): 10, Self.chunk(2, 3): 20])
        #expect(try LineageSnapshot(decoding: snapshot.encoded()) == snapshot)
    }

    @Test func termsAreReadBackInOrder() async throws {
        let storage = MemoryObjectStorage()
        let (lineage, first) = try await NodeLineage.open(node: 4, storage: storage, snapshotInterval: 100)
        #expect(first == NodeLineage.Recovery())
        lineage.record(.set(chunk: Self.chunk(1), size: 11))
        lineage.record(.set(chunk: Self.chunk(2), size: 22))
        try await lineage.closeTerm()
        try await lineage.closeTerm()  // nothing recorded: no term
        lineage.record(.delete(chunk: Self.chunk(1)))
        lineage.record(.set(chunk: Self.chunk(3), size: 33))
        try await lineage.closeTerm()
        #expect(await lineage.headTerm == 2)

        let (_, recovery) = try await NodeLineage.open(node: 4, storage: storage, snapshotInterval: 100)
        #expect(recovery.chunks == [Self.chunk(2): 22, Self.chunk(3): 33])
        #expect(recovery.head == 2)
        #expect(recovery.termsReplayed == 2)
        #expect(recovery.problem == nil)
        let (_, otherNode) = try await NodeLineage.open(node: 5, storage: storage)
        #expect(otherNode.chunks.isEmpty)
    }

    /// Every `interval` terms a snapshot replaces the terms it covers, so recovery reads one
    /// snapshot and fewer than `interval` terms, and the COS holds no more than that.
    @Test func aSnapshotReplacesTheTermsBeforeIt() async throws {
        let storage = MemoryObjectStorage()
        let (lineage, _) = try await NodeLineage.open(node: 0, storage: storage, snapshotInterval: 3)
        var model: [String: Int] = [:]
        for term in 1...10 {
            lineage.record(.set(chunk: Self.chunk(term), size: term))
            model[Self.chunk(term)] = term
            if term % 2 == 0 {
                lineage.record(.delete(chunk: Self.chunk(term - 1)))
                model[Self.chunk(term - 1)] = nil
            }
            try await lineage.closeTerm()
        }
        #expect(storage.names.map(\.rawValue) == ["lineage/0/snapshots/00000000000000000009", "lineage/0/terms/00000000000000000010"])
        let (_, recovery) = try await NodeLineage.open(node: 0, storage: storage, snapshotInterval: 3)
        #expect(recovery.chunks == model)
        #expect(recovery.snapshotTerm == 9)
        #expect(recovery.termsReplayed == 1)
        #expect(recovery.head == 10)
    }

    /// A term altered in the COS (or one that does not link to the term before it) ends the
    /// chain: recovery keeps what the intact terms say, removes the rest, and the chain goes on
    /// from there.
    @Test func aDamagedChainIsCutAtTheDamage() async throws {
        for damage in ["altered", "missing", "relinked"] {
            let storage = MemoryObjectStorage()
            let (lineage, _) = try await NodeLineage.open(node: 1, storage: storage, snapshotInterval: 100)
            for term in 1...5 {
                lineage.record(.set(chunk: Self.chunk(term), size: term))
                try await lineage.closeTerm()
            }
            let third = LineageNames.term(3, node: 1)
            switch damage {
            case "altered":
                var bytes = try #require(try await storage.get(third))
                bytes.setInteger(UInt8(9), at: bytes.writerIndex - 40)
                storage.replace(third, with: bytes)
            case "missing":
                try await storage.delete(third)
            default:
                // Well formed, correctly sealed, but linked to nothing.
                let forged = LineageTerm(node: 1, number: 3, previous: .genesis, operations: [.set(chunk: Self.chunk(99), size: 1)])
                storage.replace(third, with: forged.encoded().bytes)
            }
            let (reopened, recovery) = try await NodeLineage.open(node: 1, storage: storage, snapshotInterval: 100)
            #expect(recovery.chunks == [Self.chunk(1): 1, Self.chunk(2): 2], "\(damage)")
            #expect(recovery.head == 2)
            #expect(recovery.problem?.contains("term 3") == true, "\(damage): \(recovery.problem ?? "no problem")")
            #expect(storage.names.map(\.rawValue) == ["lineage/1/snapshots/00000000000000000002"], "\(damage)")

            reopened.record(.set(chunk: Self.chunk(6), size: 6))
            try await reopened.closeTerm()
            let (_, after) = try await NodeLineage.open(node: 1, storage: storage, snapshotInterval: 100)
            #expect(after.chunks == [Self.chunk(1): 1, Self.chunk(2): 2, Self.chunk(6): 6])
            #expect(after.problem == nil)
        }
    }

    @Test func aTermTheCOSRefusesIsWrittenWithTheNext() async throws {
        let storage = MemoryObjectStorage()
        let (lineage, _) = try await NodeLineage.open(node: 0, storage: storage)
        lineage.record(.set(chunk: Self.chunk(1), size: 1))
        storage.refuseWrites(true)
        await #expect(throws: ObjectStorageError.self) { try await lineage.closeTerm() }
        #expect(lineage.pendingCount == 1)
        lineage.record(.set(chunk: Self.chunk(2), size: 2))
        storage.refuseWrites(false)
        try await lineage.closeTerm()
        #expect(lineage.pendingCount == 0)
        let (_, recovery) = try await NodeLineage.open(node: 0, storage: storage)
        #expect(recovery.chunks == [Self.chunk(1): 1, Self.chunk(2): 2])
        #expect(recovery.head == 1)
    }

    /// Random operations, terms closed concurrently and reopened at random points, against a
    /// dictionary: what recovery reads back is always what was recorded.
    @Test func randomHistoriesReadBackExactly() async throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let storage = MemoryObjectStorage()
            let interval = Int.random(in: 1...6, using: &generator)
            var (lineage, _) = try await NodeLineage.open(node: 3, storage: storage, snapshotInterval: interval)
            var model: [String: Int] = [:]
            var nextVersion = 1
            for _ in 0..<40 {
                for _ in 0..<Int.random(in: 0...5, using: &generator) {
                    if let victim = model.keys.randomElement(using: &generator), Bool.random(using: &generator) {
                        lineage.record(.delete(chunk: victim))
                        model[victim] = nil
                    } else {
                        let size = Int.random(in: 0...1_000, using: &generator)
                        lineage.record(.set(chunk: Self.chunk(nextVersion), size: size))
                        model[Self.chunk(nextVersion)] = size
                        nextVersion += 1
                    }
                }
                let current = lineage
                async let first: Void = current.closeTerm()
                async let second: Void = current.closeTerm()
                _ = try await (first, second)
                if Int.random(in: 0..<5, using: &generator) == 0 {
                    let reopened = try await NodeLineage.open(node: 3, storage: storage, snapshotInterval: interval)
                    #expect(reopened.recovery.chunks == model)
                    #expect(reopened.recovery.problem == nil)
                    #expect(reopened.recovery.termsReplayed < interval)
                    lineage = reopened.lineage
                }
            }
            #expect(try await NodeLineage.open(node: 3, storage: storage).recovery.chunks == model)
        }
    }
}
