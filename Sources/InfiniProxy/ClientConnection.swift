import NIOCore
import Synchronization

/// A client's connection as its session sees it: the reads the event loop made, handed over as
/// they are, and replies queued on the event loop with one flush per batch. The session reads
/// and writes from its task; ``ClientConnectionHandler`` fills it on the channel's event loop.
///
/// This replaces a generic asynchronous stream per direction, whose state machines cost about a
/// quarter of the proxy's time per request: one lock and at most one continuation per hand-over
/// is all a session with one reader and one writer needs.
///
/// Reading stops while more than ``readAheadLimit`` bytes wait for the session, so a client that
/// sends faster than its commands run is held back by TCP rather than by the proxy's memory; and
/// a session waits to write while the channel is not writable, so a client slow to read is too.
final class ClientConnection: Sendable {
    let channel: any Channel
    private let state = Mutex(State())

    /// Most bytes read ahead of the session before the channel stops reading.
    static let readAheadLimit = 512 << 10

    private struct State {
        /// Reads not yet taken by the session, and their bytes.
        var received: [ByteBuffer] = []
        var receivedBytes = 0
        /// The channel closed, failed, or the session's task was cancelled.
        var isEnded = false
        var isReadingPaused = false
        var isWritable = true
        /// The session, waiting for bytes or for the end.
        var reader: CheckedContinuation<Void, Never>?
        /// The session, waiting for the channel to become writable or to end.
        var writer: CheckedContinuation<Void, Never>?

        var isReadable: Bool { !received.isEmpty || isEnded }
        var mayWrite: Bool { isWritable || isEnded }
    }

    private enum Waiter { case reader, writer }

    /// The connection was closed before a write.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the connection is closed" }
    }

    init(channel: any Channel) {
        self.channel = channel
    }

    // MARK: The session's side

    /// The reads made since the last call, in order, waiting for one if there are none; empty
    /// once the connection has ended and everything read was taken.
    func read() async -> [ByteBuffer] {
        while true {
            let (reads, ended, resumeReading) = state.withLock { state -> ([ByteBuffer], Bool, Bool) in
                guard !state.received.isEmpty else { return ([], state.isEnded, false) }
                let resume = state.isReadingPaused
                defer {
                    state.received = []
                    state.receivedBytes = 0
                    state.isReadingPaused = false
                }
                return (state.received, false, resume)
            }
            // The handler holds back the channel's reads while paused; this one goes through.
            if resumeReading { channel.read() }
            if !reads.isEmpty || ended { return reads }
            await suspend(as: .reader)
        }
    }

    /// Queues `buffers` to be written in order with one flush, once the channel is writable.
    func write(_ buffers: [ByteBuffer]) async throws {
        while true {
            let (ended, writable) = state.withLock { ($0.isEnded, $0.isWritable) }
            if ended { throw Closed() }
            if writable { break }
            await suspend(as: .writer)
        }
        let channel = self.channel
        channel.eventLoop.execute {
            for buffer in buffers { channel.write(buffer, promise: nil) }
            channel.flush()
        }
    }

    /// Returns once everything written before has been written to the socket (the promises of
    /// a channel's writes complete in order).
    func allSent() async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).get()
    }

    /// Writes one reply, then ends the connection: the output closes at once, and the channel
    /// once the client has closed its side or after ``lingerTime``. Closing both while the
    /// client's first commands (redis-py sends some as it connects) are still unread would
    /// answer them with a reset, which makes the client's kernel drop the reply unread.
    func reject(with reply: ByteBuffer) {
        let channel = self.channel
        channel.writeAndFlush(reply).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
        }
    }

    /// How long a rejected client has to read its reply and close.
    static let lingerTime = TimeAmount.seconds(2)

    func close() {
        channel.close(promise: nil)
    }

    /// Waits until there is something to read, or the channel may be written to, or the task
    /// is cancelled (which ends the connection for the session, so a server shutting down is
    /// not held up by idle clients).
    private func suspend(as waiter: Waiter) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    switch waiter {
                    case .reader:
                        if state.isReadable { return true }
                        state.reader = continuation
                    case .writer:
                        if state.mayWrite { return true }
                        state.writer = continuation
                    }
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            end()
        }
    }

    // MARK: The event loop's side

    /// Hands over a read, and pauses reading once the session has enough waiting.
    fileprivate func receive(_ bytes: ByteBuffer) {
        let reader: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.received.append(bytes)
            state.receivedBytes += bytes.readableBytes
            state.isReadingPaused = state.receivedBytes >= Self.readAheadLimit
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume()
    }

    fileprivate var isReadingPaused: Bool { state.withLock { $0.isReadingPaused } }

    fileprivate func writabilityChanged(to writable: Bool) {
        let writer: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.isWritable = writable
            guard writable else { return nil }
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    fileprivate func end() {
        let (reader, writer) = state.withLock { state in
            state.isEnded = true
            defer { (state.reader, state.writer) = (nil, nil) }
            return (state.reader, state.writer)
        }
        reader?.resume()
        writer?.resume()
    }
}

/// Fills a ``ClientConnection`` on the channel's event loop, and holds back reads while the
/// session has enough to do.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: ClientConnection

    init(connection: ClientConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.receive(unwrapInboundIn(data))
    }

    /// Held back while paused: the session asks the channel to read again when it takes the
    /// bytes waiting.
    func read(context: ChannelHandlerContext) {
        if !connection.isReadingPaused { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged(to: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.end()
        context.close(promise: nil)
    }
}
