import NIOCore
import NIOPosix
public import RESP

/// Why a request got no reply. Whether the server acted on it is unknown.
public struct TestRedisClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The connection could not be opened.
        case connectFailed
        /// The connection closed or failed before the reply came.
        case connectionClosed
        /// No reply came within the request's timeout; the connection was closed.
        case timedOut
        /// The server sent bytes that are not RESP; the connection was closed.
        case malformedReply
        /// The server sent a reply nobody asked for, or one of the wrong type.
        case unexpectedReply
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { self.message }
}

/// A small Redis client for tests: one connection, requests answered in order, any number of
/// them in flight (pipelining).
///
/// Error replies (`-ERR ...`) are replies and come back as values. A request that gets no
/// reply throws ``TestRedisClientError``; the connection is then closed, because after a
/// timeout or a protocol error later replies can no longer be matched to their requests.
public final class TestRedisClient: Sendable {
    private let channel: any Channel
    /// The timeout of requests that do not name one; nil waits as long as the connection lives.
    public let defaultTimeout: Duration?

    private init(channel: any Channel, defaultTimeout: Duration?) {
        self.channel = channel
        self.defaultTimeout = defaultTimeout
    }

    /// Opens a connection to `host:port`.
    public static func connect(
        host: String = "127.0.0.1",
        port: Int,
        defaultTimeout: Duration? = .seconds(10)
    ) async throws(TestRedisClientError) -> TestRedisClient {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RESPReplyHandler())
                    }
                }
                .connect(host: host, port: port)
                .get()
            return TestRedisClient(channel: channel, defaultTimeout: defaultTimeout)
        } catch {
            throw TestRedisClientError(.connectFailed, "cannot connect to \(host):\(port): \(error)")
        }
    }

    /// Sends one command, such as `["SET", "key", "value"]`, and waits for its reply.
    public func send(
        _ command: [BinaryString],
        timeout: Duration? = nil
    ) async throws(TestRedisClientError) -> RESPValue {
        guard let result = await self.pipeline([command], timeout: timeout).first else {
            preconditionFailure("one command gets one result")
        }
        return try result.get()
    }

    /// Sends several commands in one write and waits for all their replies, in order.
    /// `timeout` (or ``defaultTimeout``) applies to each command from when it is written.
    public func pipeline(
        _ commands: [[BinaryString]],
        timeout: Duration? = nil
    ) async -> [Result<RESPValue, TestRedisClientError>] {
        var bytes = self.channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands {
            bytes.writeArrayHeader(command.count)
            for argument in command {
                bytes.writeBulkString(argument.bytes)
            }
        }
        let replies = commands.map { _ in self.channel.eventLoop.makePromise(of: RESPValue.self) }
        let written = self.channel.eventLoop.makePromise(of: Void.self)
        // If the handler is gone (the channel closed), only the write promise hears about it.
        written.futureResult.whenFailure { error in
            let failure = TestRedisClientError(.connectionClosed, "cannot send: \(error)")
            for reply in replies { reply.fail(failure) }
        }
        let timeout = (timeout ?? self.defaultTimeout).map(TimeAmount.init)
        self.channel.writeAndFlush(RequestBatch(bytes: bytes, replies: replies, timeout: timeout), promise: written)
        var results: [Result<RESPValue, TestRedisClientError>] = []
        results.reserveCapacity(replies.count)
        for reply in replies {
            do {
                results.append(.success(try await reply.futureResult.get()))
            } catch let error as TestRedisClientError {
                results.append(.failure(error))
            } catch {
                results.append(.failure(TestRedisClientError(.connectionClosed, "\(error)")))
            }
        }
        return results
    }

    /// Closes the connection; requests still in flight fail.
    public func close() async {
        try? await self.channel.close()
    }
}

/// Encoded commands and the promises of their replies, written as one unit.
struct RequestBatch: Sendable {
    var bytes: ByteBuffer
    var replies: [EventLoopPromise<RESPValue>]
    var timeout: TimeAmount?
}

/// Matches each parsed reply to the oldest unanswered request; fails all of them, and closes
/// the channel, when the connection breaks, a reply is malformed or a timeout expires.
final class RESPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RequestBatch
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var reply: EventLoopPromise<RESPValue>
        var timeout: Scheduled<Void>?
    }

    private var waiting = CircularBuffer<Waiting>()
    private var parser = RESPParser()
    private var received = ByteBuffer()
    /// Set once the connection is unusable; later requests fail at once.
    private var failure: TestRedisClientError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let batch = self.unwrapOutboundIn(data)
        if let failure = self.failure {
            let closed = TestRedisClientError(.connectionClosed, "connection closed earlier: \(failure.message)")
            for reply in batch.replies { reply.fail(closed) }
            promise?.fail(closed)
            return
        }
        for reply in batch.replies {
            let timeout = batch.timeout.map { delay in
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                    self.fail(context, TestRedisClientError(.timedOut, "no reply within \(delay)"))
                }
            }
            self.waiting.append(Waiting(reply: reply, timeout: timeout))
        }
        context.write(self.wrapOutboundOut(batch.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.received.writeBuffer(&bytes)
        do {
            while let value = try self.parser.next(from: &self.received) {
                guard let answered = self.waiting.popFirst() else {
                    self.fail(context, TestRedisClientError(.unexpectedReply, "reply to no request: \(value)"))
                    return
                }
                answered.timeout?.cancel()
                answered.reply.succeed(value)
            }
        } catch {
            self.fail(context, TestRedisClientError(.malformedReply, "malformed reply: \(error)"))
            return
        }
        self.received.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(context, TestRedisClientError(.connectionClosed, "connection closed before the reply"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context, TestRedisClientError(.connectionClosed, "connection failed: \(error)"))
    }

    /// Fails every waiting request with the first error seen, and closes the channel once.
    private func fail(_ context: ChannelHandlerContext, _ error: TestRedisClientError) {
        let first = self.failure == nil
        let failure = self.failure ?? error
        self.failure = failure
        while let waiting = self.waiting.popFirst() {
            waiting.timeout?.cancel()
            waiting.reply.fail(failure)
        }
        if first { context.close(promise: nil) }
    }
}
