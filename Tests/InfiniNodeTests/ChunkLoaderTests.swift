import COSTestSupport
import InfiniCOS
import NIOCore
import Testing

@testable import InfiniNode

/// Restoring a node's chunks from the COS while reads go on.
@Suite(.timeLimit(.minutes(1))) struct ChunkLoaderTests {
    private static func object(_ chunk: String) throws -> ObjectName { try ChunkPersister.objectName(forChunk: chunk) }

    private static func storage(holding chunks: [String]) async throws -> MemoryObjectStorage {
        let storage = MemoryObjectStorage()
        for chunk in chunks { try await storage.put(object(chunk), bytes: ByteBuffer(string: "bytes of \(chunk)")) }
        return storage
    }

    /// A restore of chunks `1/0/0` to `40/0/0`, under way, its read of the first held.
    private static func restoreStuckOnTheFirstOf40Chunks() async throws -> (MemoryObjectStorage, ChunkMemory, ChunkLoader, Task<Int, Never>) {
        let chunks = (1...40).map { "\($0)/0/0" }
        let storage = try await storage(holding: chunks)
        storage.hold(try object("1/0/0"))
        let memory = ChunkMemory()
        let loader = ChunkLoader(memory: memory, persister: ChunkPersister(storage: storage))
        let restore = Task { await loader.restore(chunks) }
        while storage.readCount(of: try object("1/0/0")) == 0 { await Task.yield() }
        return (storage, memory, loader, restore)
    }

    @Test func aRestoreBringsBackEveryChunkTheCOSHas() async throws {
        let chunks = (1...100).map { "\($0)/0/0" }
        let storage = try await Self.storage(holding: chunks)
        let memory = ChunkMemory()
        let loader = ChunkLoader(memory: memory, persister: ChunkPersister(storage: storage))
        // One chunk the COS lost: it is skipped, not waited for.
        #expect(await loader.restore(chunks + ["999/0/0"]) == 100)
        #expect(memory.count == 100)
        #expect(memory.fetch(ByteBuffer(string: "42/0/0")) == ByteBuffer(string: "bytes of 42/0/0"))
        #expect(loader.restored == 100)
        #expect(!loader.isRestoring)
    }

    /// A read of a chunk the restore has not reached waits for that chunk only, and a chunk
    /// several ask for is read from the COS once.
    @Test func aReadDuringARestoreWaitsForItsChunkOnly() async throws {
        // The restore's first wave (16 at a time) sticks on the first chunk; the reads of the
        // last chunk and of a second one must not.
        let (storage, _, loader, restore) = try await Self.restoreStuckOnTheFirstOf40Chunks()
        #expect(await loader.load(ByteBuffer(string: "40/0/0")) == ByteBuffer(string: "bytes of 40/0/0"))
        #expect(await loader.load(ByteBuffer(string: "2/0/0")) == ByteBuffer(string: "bytes of 2/0/0"))
        #expect(loader.isRestoring)
        async let first = loader.load(ByteBuffer(string: "1/0/0"))
        async let second = loader.load(ByteBuffer(string: "1/0/0"))
        storage.release(try Self.object("1/0/0"))
        #expect(await [first, second] == [ByteBuffer(string: "bytes of 1/0/0"), ByteBuffer(string: "bytes of 1/0/0")])
        #expect(await restore.value == 40)
        #expect(storage.readCount(of: try Self.object("1/0/0")) == 1)
        #expect(storage.readCount(of: try Self.object("40/0/0")) == 1)
    }

    /// The proxy removing a chunk while it is being restored, or before the restore reaches
    /// it, leaves it removed.
    @Test func aChunkRemovedDuringARestoreStaysRemoved() async throws {
        let (storage, memory, loader, restore) = try await Self.restoreStuckOnTheFirstOf40Chunks()
        #expect(loader.remove([ByteBuffer(string: "1/0/0"), ByteBuffer(string: "39/0/0")]) == 0)
        storage.release(try Self.object("1/0/0"))
        _ = await restore.value
        #expect(memory.count == 38)
        #expect(memory.fetch(ByteBuffer(string: "1/0/0")) == nil)
        #expect(memory.fetch(ByteBuffer(string: "39/0/0")) == nil)
        #expect(loader.remove([ByteBuffer(string: "2/0/0")]) == 1)
    }
}
