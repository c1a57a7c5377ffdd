public import InfiniCOS
public import NIOCore
import Synchronization

/// A COS in a dictionary, for node and recovery tests: it can refuse writes, and hold reads of chosen objects
/// until released, so tests can stop the world at the moment they care about. Reads return whole
/// objects (node code asks for no ranges).
public final class MemoryObjectStorage: ObjectStorage {
    private struct State {
        var objects: [ObjectName: ByteBuffer] = [:]
        var refusesWrites = false
        var losesNextAnswer = false
        var heldReads: Set<ObjectName> = []
        var waitingReads: [ObjectName: [CheckedContinuation<Void, Never>]] = [:]
        var reads: [ObjectName: Int] = [:]

        /// Throws once after ``MemoryObjectStorage/loseNextAnswer()``.
        mutating func answer() throws {
            guard losesNextAnswer else { return }
            losesNextAnswer = false
            throw ObjectStorageError(.unavailable, "the answer was lost (test)")
        }
    }

    private let state = Mutex(State())

    public init() {}

    public var names: [ObjectName] { state.withLock { $0.objects.keys.sorted() } }

    public func readCount(of name: ObjectName) -> Int { state.withLock { $0.reads[name] ?? 0 } }

    public func refuseWrites(_ refuses: Bool) { state.withLock { $0.refusesWrites = refuses } }

    /// The next write is stored but fails, as a request whose answer was lost does.
    public func loseNextAnswer() { state.withLock { $0.losesNextAnswer = true } }

    /// Reads of `name` wait until ``release(_:)``.
    public func hold(_ name: ObjectName) { state.withLock { _ = $0.heldReads.insert(name) } }

    public func release(_ name: ObjectName) {
        let waiting = state.withLock { state in
            state.heldReads.remove(name)
            return state.waitingReads.removeValue(forKey: name) ?? []
        }
        for reader in waiting { reader.resume() }
    }

    public func replace(_ name: ObjectName, with bytes: ByteBuffer) { state.withLock { $0.objects[name] = bytes } }

    public func put(_ name: ObjectName, bytes: ByteBuffer) async throws {
        try state.withLock { state in
            guard !state.refusesWrites else { throw ObjectStorageError(.unavailable, "writes refused by the test") }
            state.objects[name] = bytes
            try state.answer()
        }
    }

    public func create(_ name: ObjectName, bytes: ByteBuffer) async throws -> Bool {
        try state.withLock { state in
            guard !state.refusesWrites else { throw ObjectStorageError(.unavailable, "writes refused by the test") }
            guard state.objects[name] == nil else { return false }
            state.objects[name] = bytes
            try state.answer()
            return true
        }
    }

    public func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer? {
        await withCheckedContinuation { continuation in
            let held = state.withLock { state in
                state.reads[name, default: 0] += 1
                guard state.heldReads.contains(name) else { return false }
                state.waitingReads[name, default: []].append(continuation)
                return true
            }
            if !held { continuation.resume() }
        }
        return state.withLock { $0.objects[name] }
    }

    public func size(of name: ObjectName) async throws -> Int? {
        state.withLock { $0.objects[name]?.readableBytes }
    }

    public func delete(_ name: ObjectName) async throws {
        _ = state.withLock { $0.objects.removeValue(forKey: name) }
    }

    public func list(prefix: String) async throws -> [ObjectName] {
        state.withLock { $0.objects.keys.filter { $0.rawValue.hasPrefix(prefix) }.sorted() }
    }
}
