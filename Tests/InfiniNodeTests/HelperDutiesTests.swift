import COSTestSupport
import InfiniCOS
import InfiniNodeProtocol
import NIOCore
import Testing

@testable import InfiniNode

/// A node helping another node's recovery: it loads its partition of the other node's lineage,
/// answers reads of any of its chunks, and drops them all when the help ends.
@Suite(.timeLimit(.minutes(1))) struct HelperDutiesTests {
    @Test func aHelperLoadsItsPartitionAndServesTheRestOnDemand() async throws {
        let storage = MemoryObjectStorage()
        let (lineage, _) = try await NodeLineage.open(node: 5, storage: storage)
        let chunks = (1...60).map { "\($0)/0/2" }
        for chunk in chunks {
            try await storage.put(ChunkPersister.objectName(forChunk: chunk), bytes: ByteBuffer(string: "bytes of \(chunk)"))
            lineage.record(.set(chunk: chunk, size: 12))
        }
        try await lineage.closeTerm()
        let mine = chunks.filter { NodeProtocol.helperPartition(ofChunk: $0.utf8, partitions: 3) == 1 }
        let others = chunks.filter { !mine.contains($0) }
        #expect(!mine.isEmpty && !others.isEmpty)

        let helpers = HelperDuties(persister: ChunkPersister(storage: storage)) { _ in }
        #expect(helpers.start(helping: 5, partition: 1, of: 3))
        while helpers.isLoading || helpers.usedBytes == 0 { try await Task.sleep(for: .milliseconds(5)) }
        for chunk in mine { #expect(storage.readCount(of: try ChunkPersister.objectName(forChunk: chunk)) == 1) }
        for chunk in others { #expect(storage.readCount(of: try ChunkPersister.objectName(forChunk: chunk)) == 0) }

        // Its own partition from memory, another chunk of the helped node from the COS.
        #expect(await helpers.fetch(ByteBuffer(string: mine[0]), helping: 5) == ByteBuffer(string: "bytes of \(mine[0])"))
        #expect(storage.readCount(of: try ChunkPersister.objectName(forChunk: mine[0])) == 1)
        #expect(await helpers.fetch(ByteBuffer(string: others[0]), helping: 5) == ByteBuffer(string: "bytes of \(others[0])"))
        // Only for the node it helps.
        #expect(await helpers.fetch(ByteBuffer(string: mine[0]), helping: 4) == nil)

        #expect(helpers.stop(helping: 5) == mine.count + 1)
        #expect(helpers.usedBytes == 0)
        #expect(await helpers.fetch(ByteBuffer(string: mine[0]), helping: 5) == nil)
    }

    @Test func withoutACOSThereIsNothingToHelpWith() {
        #expect(!HelperDuties(persister: nil) { _ in }.start(helping: 1, partition: 0, of: 2))
    }
}
