public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The function side of the Lambda Runtime API: fetches invocations and posts their results.
///
/// One persistent HTTP/1.1 keep-alive connection is used for all calls and reopened on the
/// next call after it closes. Calls are meant to be made one after another, as a Lambda
/// runtime loop does: concurrent calls are pipelined on the same connection, so a call made
/// while `nextInvocation()` is waiting is answered only after that invocation arrives.
///
/// Cancelling the task of a pending call drops the connection (the only way to abandon an
/// HTTP/1.1 request) and makes the call throw `CancellationError`.
public actor RuntimeAPIClient {
    /// Limits and timeouts for the client.
    public struct Configuration: Sendable {
        /// Largest response body accepted, in bytes; larger ones fail with `.responseTooLarge`.
        /// Defaults to Lambda's 6 MiB payload limit.
        public var maxResponseBodySize: Int
        /// Largest total size of a response's header block, in bytes.
        public var maxResponseHeaderSize: Int
        /// How long to wait for the TCP connection to be established. `next` itself has no
        /// timeout: it long-polls until an invocation arrives.
        public var connectTimeout: Duration

        public init(
            maxResponseBodySize: Int = 6 * 1024 * 1024,
            maxResponseHeaderSize: Int = 64 * 1024,
            connectTimeout: Duration = .seconds(10)
        ) {
            self.maxResponseBodySize = maxResponseBodySize
            self.maxResponseHeaderSize = maxResponseHeaderSize
            self.connectTimeout = connectTimeout
        }
    }

    /// The host part of the Runtime API endpoint.
    public nonisolated let host: String
    /// The port of the Runtime API endpoint.
    public nonisolated let port: Int
    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private var connection: EventLoopFuture<any Channel>?

    /// Creates a client for the Runtime API at `endpoint` (`host:port`, or `[v6]:port`).
    /// No connection is made until the first call.
    public init(
        endpoint: String,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(RuntimeAPIError) {
        let (host, port) = try RuntimeAPIProtocol.parseEndpoint(endpoint)
        self.host = host
        self.port = port
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
    }

    /// Creates a client for the endpoint in `AWS_LAMBDA_RUNTIME_API`, which Lambda (and the
    /// proxy's local invoker) sets for the function process.
    public static func fromEnvironment(
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(RuntimeAPIError) -> RuntimeAPIClient {
        guard let endpoint = RuntimeAPIProtocol.environmentValue(RuntimeAPIProtocol.environmentVariable) else {
            throw RuntimeAPIError(.invalidArgument, "\(RuntimeAPIProtocol.environmentVariable) is not set")
        }
        return try RuntimeAPIClient(endpoint: endpoint, configuration: configuration, eventLoopGroup: eventLoopGroup)
    }

    deinit {
        self.connection?.whenSuccess { $0.close(promise: nil) }
    }

    /// Waits, without any timeout, for the next invocation (`GET /runtime/invocation/next`).
    ///
    /// - Throws: `RuntimeAPIError` (`.malformedResponse` when a required header is missing or
    ///   invalid, `.responseTooLarge` beyond the configured limits, `.unexpectedStatus`, or a
    ///   connection error), or `CancellationError`.
    public func nextInvocation() async throws -> Invocation {
        let response = try await self.send(method: .GET, uri: RuntimeAPIProtocol.nextInvocationPath, body: nil)
        guard response.status == .ok else {
            throw Self.statusError(response, request: "GET next")
        }
        let headers = response.headers
        guard let requestID = headers.first(name: RuntimeAPIProtocol.requestIDHeader),
            RuntimeAPIProtocol.isValidRequestID(requestID)
        else {
            throw RuntimeAPIError(.malformedResponse, "next invocation has a missing or invalid request id")
        }
        guard let deadlineText = headers.first(name: RuntimeAPIProtocol.deadlineHeader),
            let deadline = Int64(deadlineText)
        else {
            throw RuntimeAPIError(.malformedResponse, "next invocation \(requestID) has a missing or invalid deadline")
        }
        guard let functionARN = headers.first(name: RuntimeAPIProtocol.functionARNHeader) else {
            throw RuntimeAPIError(.malformedResponse, "next invocation \(requestID) has no invoked function ARN")
        }
        return Invocation(
            requestID: requestID,
            deadlineEpochMilliseconds: deadline,
            invokedFunctionARN: functionARN,
            traceID: headers.first(name: RuntimeAPIProtocol.traceIDHeader),
            clientContext: headers.first(name: RuntimeAPIProtocol.clientContextHeader),
            cognitoIdentity: headers.first(name: RuntimeAPIProtocol.cognitoIdentityHeader),
            payload: Array(response.body.readableBytesView)
        )
    }

    /// Posts the result payload of invocation `requestID`.
    ///
    /// - Throws: `RuntimeAPIError` `.payloadTooLarge` when the API refuses the size (the
    ///   invocation is still open, so `reportError` can follow), `.unexpectedStatus` for any
    ///   other refusal (such as an unknown request id), `.invalidArgument` for a request id
    ///   that cannot be put in a URL path, or a connection error.
    public func respond(to requestID: String, payload: ByteBuffer) async throws {
        try Self.validate(requestID)
        let response = try await self.send(
            method: .POST,
            uri: RuntimeAPIProtocol.responsePath(for: requestID),
            body: payload
        )
        try Self.expectAccepted(response, request: "POST response for \(requestID)")
    }

    /// Posts the result payload of invocation `requestID`.
    public func respond(to requestID: String, payload: some Collection<UInt8> & Sendable) async throws {
        try await self.respond(to: requestID, payload: ByteBuffer(bytes: payload))
    }

    /// Reports that invocation `requestID` failed, in Lambda's standard error format.
    public func reportError(for requestID: String, type: String, message: String) async throws {
        try Self.validate(requestID)
        try await self.postError(
            uri: RuntimeAPIProtocol.errorPath(for: requestID),
            type: type,
            message: message,
            request: "POST error for \(requestID)"
        )
    }

    /// Reports that the function failed before it could ask for its first invocation.
    public func reportInitializationError(type: String, message: String) async throws {
        try await self.postError(
            uri: RuntimeAPIProtocol.initErrorPath,
            type: type,
            message: message,
            request: "POST init error"
        )
    }

    /// Closes the connection. A later call opens a new one.
    public func close() async {
        guard let connection = self.connection else { return }
        self.connection = nil
        if let channel = try? await connection.get() {
            try? await channel.close()
        }
    }

    private func postError(uri: String, type: String, message: String, request: String) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: RuntimeAPIProtocol.errorContentType)
        headers.add(name: RuntimeAPIProtocol.functionErrorTypeHeader, value: Self.headerSafe(type))
        let body = ErrorDocument(type: type, message: message).encoded()
        let response = try await self.send(method: .POST, uri: uri, headers: headers, body: ByteBuffer(bytes: body))
        try Self.expectAccepted(response, request: request)
    }

    private func send(
        method: HTTPMethod,
        uri: String,
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer?
    ) async throws -> ClientResponse {
        let channel = try await self.activeChannel()
        let promise = channel.eventLoop.makePromise(of: ClientResponse.self)
        channel.writeAndFlush(
            ClientRequest(method: method, uri: uri, headers: headers, body: body, responsePromise: promise),
            promise: nil
        )
        // A cancelled long poll must not stay parked: drop the connection, the next call
        // reconnects.
        return try await withTaskCancellationHandler {
            do {
                return try await promise.futureResult.get()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// The open connection, reconnecting when the previous one has closed. Reentrant calls
    /// share one connection attempt.
    private func activeChannel() async throws -> any Channel {
        for _ in 0..<2 {
            let attempt: EventLoopFuture<any Channel>
            if let existing = self.connection {
                attempt = existing
            } else {
                attempt = self.connect()
                self.connection = attempt
            }
            let channel: any Channel
            do {
                channel = try await attempt.get()
            } catch {
                if self.connection === attempt { self.connection = nil }
                throw RuntimeAPIError(
                    .connectionFailed,
                    "cannot connect to the runtime API at \(self.host):\(self.port): \(error)"
                )
            }
            if channel.isActive { return channel }
            if self.connection === attempt { self.connection = nil }
        }
        throw RuntimeAPIError(.connectionClosed, "runtime API at \(self.host):\(self.port) closed the new connection")
    }

    private func connect() -> EventLoopFuture<any Channel> {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = self.configuration.maxResponseHeaderSize
        decoderLimits.maxHeaderFieldSize = self.configuration.maxResponseHeaderSize
        let limits = decoderLimits
        let maxBodySize = self.configuration.maxResponseBodySize
        let hostHeader = "\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)"
        return ClientBootstrap(group: self.eventLoopGroup)
            .connectTimeout(TimeAmount(self.configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(decoderLimitConfiguration: limits)
                    try channel.pipeline.syncOperations.addHandler(
                        ClientConnectionHandler(maxBodySize: maxBodySize, hostHeader: hostHeader)
                    )
                }
            }
            .connect(host: self.host, port: self.port)
    }

    private static func validate(_ requestID: String) throws(RuntimeAPIError) {
        guard RuntimeAPIProtocol.isValidRequestID(requestID) else {
            throw RuntimeAPIError(.invalidArgument, "'\(requestID)' is not a valid request id")
        }
    }

    private static func expectAccepted(_ response: ClientResponse, request: String) throws(RuntimeAPIError) {
        guard response.status == .accepted else {
            throw Self.statusError(response, request: request)
        }
    }

    /// Maps a refusal to an error, quoting the server's own `errorMessage` when it sent one.
    private static func statusError(_ response: ClientResponse, request: String) -> RuntimeAPIError {
        var message = "runtime API answered \(response.status.code) \(response.status.reasonPhrase) to \(request)"
        if let detail = ErrorDocument.decodeMembers(response.body.readableBytesView)?.message {
            message += ": \(detail.prefix(200))"
        }
        let code: RuntimeAPIError.Code = response.status == .payloadTooLarge ? .payloadTooLarge : .unexpectedStatus
        return RuntimeAPIError(code, message)
    }

    /// Header values may not carry control characters; the full type still goes in the body.
    private static func headerSafe(_ value: String) -> String {
        let cleaned = String(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return cleaned.isEmpty ? "Unhandled" : cleaned
    }
}
