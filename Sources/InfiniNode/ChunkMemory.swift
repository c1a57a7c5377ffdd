import NIOCore
import Synchronization

/// The chunks a memory node keeps in RAM, keyed by the proxy's opaque chunk names. It outlives
/// invocations, as a warm Lambda sandbox's memory does.
final class ChunkMemory: Sendable {
    private struct State {
        var chunks: [ByteBuffer: ByteBuffer] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())

    var usedBytes: Int { state.withLock { $0.bytes } }
    var count: Int { state.withLock { $0.chunks.count } }

    func store(_ name: ByteBuffer, _ bytes: ByteBuffer) {
        state.withLock { state in
            if let old = state.chunks.updateValue(bytes, forKey: name) { state.bytes -= old.readableBytes }
            state.bytes += bytes.readableBytes
        }
    }

    func fetch(_ name: ByteBuffer) -> ByteBuffer? {
        state.withLock { $0.chunks[name] }
    }

    func remove(_ name: ByteBuffer) -> Bool {
        state.withLock { state in
            guard let old = state.chunks.removeValue(forKey: name) else { return false }
            state.bytes -= old.readableBytes
            return true
        }
    }
}
