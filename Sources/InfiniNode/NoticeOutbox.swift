import NIOCore
import Synchronization

/// Pushes to the proxy from other threads (the persister's completions), gathered so that all
/// those made before the link's event loop gets to them go out in one write and one flush.
final class NoticeOutbox: Sendable {
    private struct Pending {
        var bytes = ByteBuffer()
        var isScheduled = false
    }

    private let channel: any Channel
    private let pending = Mutex(Pending())

    init(channel: any Channel) {
        self.channel = channel
    }

    func send(_ notice: ByteBuffer) {
        let schedule = pending.withLock { pending in
            pending.bytes.writeImmutableBuffer(notice)
            defer { pending.isScheduled = true }
            return !pending.isScheduled
        }
        guard schedule else { return }
        channel.eventLoop.execute {
            let bytes = self.pending.withLock { pending in
                pending.isScheduled = false
                defer { pending.bytes = ByteBuffer() }
                return pending.bytes
            }
            self.channel.writeAndFlush(bytes, promise: nil)
        }
    }
}
