public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The Lambda side of the Runtime API for one local function instance: the proxy's local
/// invoker starts one per spawned node process, passes `endpoint` to it as
/// `AWS_LAMBDA_RUNTIME_API`, and calls `invoke` to run invocations on it.
///
/// Invocations are delivered one at a time in `invoke` order. Losing a connection is not taken
/// as the instance dying, because a runtime may reconnect for its next poll; the invoker calls
/// `failOutstanding(reason:)` when the process exits, and every invocation also has a timeout.
/// Call `shutdown()` when done: it closes the listener and every connection.
public final class LocalRuntimeAPIServer: Sendable {
    /// Limits and defaults for the server.
    public struct Configuration: Sendable {
        /// Largest request body accepted (responses and error reports), in bytes; larger ones
        /// are refused with 413. Defaults to Lambda's 6 MiB payload limit.
        public var maxRequestBodySize: Int
        /// Largest total size of a request's header block, in bytes.
        public var maxRequestHeaderSize: Int
        /// The `Lambda-Runtime-Invoked-Function-Arn` sent when `invoke` is given none.
        public var defaultFunctionARN: String

        public init(
            maxRequestBodySize: Int = 6 * 1024 * 1024,
            maxRequestHeaderSize: Int = 64 * 1024,
            defaultFunctionARN: String = "arn:aws:lambda:local:000000000000:function:infinistore-node"
        ) {
            self.maxRequestBodySize = maxRequestBodySize
            self.maxRequestHeaderSize = maxRequestHeaderSize
            self.defaultFunctionARN = defaultFunctionARN
        }
    }

    /// The port the listener is bound to (the real one when 0 was requested).
    public let port: Int
    /// The address the listener is bound to.
    public let host: String
    private let configuration: Configuration
    private let eventLoop: any EventLoop
    private let serverChannel: any Channel
    private let core: NIOLoopBound<ServerCore>

    /// `host:port`, the value for the function process's `AWS_LAMBDA_RUNTIME_API`.
    public var endpoint: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    private init(
        host: String,
        port: Int,
        configuration: Configuration,
        eventLoop: any EventLoop,
        serverChannel: any Channel,
        core: NIOLoopBound<ServerCore>
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.serverChannel = serverChannel
        self.core = core
    }

    /// Binds a new server, by default on an ephemeral loopback port.
    ///
    /// The listener and all its connections share one event loop of `eventLoopGroup`, so the
    /// invocation state needs no locks; one function instance is far from saturating a loop.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> LocalRuntimeAPIServer {
        let eventLoop = eventLoopGroup.next()
        let core = try await eventLoop.submit {
            NIOLoopBound(ServerCore(eventLoop: eventLoop), eventLoop: eventLoop)
        }.get()
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxRequestHeaderSize
        decoderLimits.maxHeaderFieldSize = configuration.maxRequestHeaderSize
        let limits = decoderLimits
        let maxBodySize = configuration.maxRequestBodySize

        let serverChannel: any Channel
        do {
            serverChannel = try await ServerBootstrap(group: eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: false,
                            withErrorHandling: true,
                            withEncoderConfiguration: HTTPResponseEncoder.Configuration(),
                            withDecoderLimitConfiguration: limits
                        )
                        try channel.pipeline.syncOperations.addHandler(
                            ServerConnectionHandler(core: core.value, maxBodySize: maxBodySize)
                        )
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw RuntimeAPIError(.bindFailed, "cannot listen on \(host):\(port): \(error)")
        }
        guard let boundPort = serverChannel.localAddress?.port else {
            try? await serverChannel.close()
            throw RuntimeAPIError(.bindFailed, "listener on \(host):\(port) has no local port")
        }
        return LocalRuntimeAPIServer(
            host: host,
            port: boundPort,
            configuration: configuration,
            eventLoop: eventLoop,
            serverChannel: serverChannel,
            core: core
        )
    }

    /// Runs one invocation: queues it, hands it to the runtime's (pending or next) `GET next`
    /// once the previous invocation has been answered, and returns what the runtime posts.
    ///
    /// - Parameters:
    ///   - payload: The event bytes, passed to the runtime unchanged.
    ///   - timeout: Time allowed from now until the answer, including the wait in the queue;
    ///     it also sets the `Lambda-Runtime-Deadline-Ms` header.
    ///   - functionARN: The `Lambda-Runtime-Invoked-Function-Arn`, or the configured default.
    /// - Throws: `RuntimeAPIError` `.timedOut`, `.instanceFailed` (after `failOutstanding`)
    ///   or `.shutDown`; `CancellationError` when the calling task is cancelled.
    public func invoke(
        payload: [UInt8],
        timeout: Duration,
        functionARN: String? = nil
    ) async throws -> InvocationResult {
        let now = RuntimeAPIProtocol.currentEpochMilliseconds()
        let timeoutMilliseconds = max(0, timeout.roundedUpMilliseconds)
        let requestID = RuntimeAPIProtocol.makeRequestID()
        let promise = self.eventLoop.makePromise(of: InvocationResult.self)
        let invocation = PendingInvocation(
            requestID: requestID,
            payload: ByteBuffer(bytes: payload),
            deadlineEpochMilliseconds: now + timeoutMilliseconds,
            functionARN: functionARN ?? self.configuration.defaultFunctionARN,
            traceID: RuntimeAPIProtocol.makeTraceID(epochMilliseconds: now),
            promise: promise
        )
        let core = self.core
        // Both closures run on the same loop in submission order, so a cancellation always
        // finds the invocation already queued (or already finished).
        self.eventLoop.execute {
            core.value.enqueue(invocation, timeout: .milliseconds(timeoutMilliseconds))
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            self.eventLoop.execute {
                core.value.fail(requestID: requestID, with: CancellationError())
            }
        }
    }

    /// Fails the outstanding invocation and all queued ones with `.instanceFailed`, for when
    /// the function process has exited. Later invocations are accepted again, for a runtime
    /// that reconnects.
    public func failOutstanding(reason: String) async {
        let core = self.core
        try? await self.eventLoop.submit {
            core.value.failAll(with: RuntimeAPIError(.instanceFailed, reason))
        }.get()
    }

    /// The error the runtime posted to `/runtime/init/error`, if any.
    public func initializationError() async -> (type: String, message: String)? {
        let core = self.core
        let error = try? await self.eventLoop.submit { core.value.initializationError }.get()
        return error.flatMap { $0 }.map { ($0.type, $0.message) }
    }

    /// How many connections the server has accepted, for tests of connection reuse.
    func connectionsAccepted() async -> Int {
        let core = self.core
        return (try? await self.eventLoop.submit { core.value.connectionsAccepted }.get()) ?? 0
    }

    /// How many `next` requests are parked, for tests that must not race a poll.
    func parkedPollCount() async -> Int {
        let core = self.core
        return (try? await self.eventLoop.submit { core.value.parkedPollCount }.get()) ?? 0
    }

    /// How many invocations are queued or outstanding, for tests that must not race `invoke`.
    func pendingInvocationCount() async -> Int {
        let core = self.core
        return (try? await self.eventLoop.submit { core.value.pendingInvocationCount }.get()) ?? 0
    }

    /// Closes the listener and every connection and fails pending invocations with
    /// `.shutDown`. Safe to call more than once.
    public func shutdown() async {
        try? await self.serverChannel.close()
        let core = self.core
        let connections = (try? await self.eventLoop.submit { core.value.shutDown() }.get()) ?? []
        for connection in connections {
            try? await connection.close()
        }
    }
}
