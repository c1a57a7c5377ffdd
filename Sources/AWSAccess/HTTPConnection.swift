import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// A request as the connection sends it; `Host`, `Content-Length` and `Connection` are added
/// by the connection.
struct HTTPRequest: Sendable {
    var method: HTTPMethod
    var target: String
    var headers: HTTPHeaders
    var body: ByteBuffer?
}

/// Limits a connection enforces on what the server sends.
struct HTTPLimits: Sendable {
    var maxBodySize: Int
    var maxHeaderSize: Int
    var connectTimeout: TimeAmount
    var requestTimeout: TimeAmount
}

/// One HTTP/1.1 keep-alive connection that carries one request at a time; the pool hands it
/// to one caller at once.
final class HTTPConnection: Sendable {
    private let channel: any Channel
    private let endpoint: AWSEndpoint
    private let requestTimeout: TimeAmount

    private init(channel: any Channel, endpoint: AWSEndpoint, requestTimeout: TimeAmount) {
        self.channel = channel
        self.endpoint = endpoint
        self.requestTimeout = requestTimeout
    }

    var isActive: Bool { self.channel.isActive }

    static func connect(
        to endpoint: AWSEndpoint,
        tls: NIOSSLContext?,
        limits: HTTPLimits,
        group: any EventLoopGroup
    ) async throws(AWSError) -> HTTPConnection {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxHeaderSize
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderSize
        let headerLimits = decoderLimits
        let maxBodySize = limits.maxBodySize
        // SNI takes names only; for an IP address NIOSSL checks the certificate against it.
        let serverName = Self.isIPAddress(endpoint.host) ? nil : endpoint.host
        // The connection is handed out only once TLS is up, so a refused certificate is the
        // connection's error rather than a request's on a channel that has just closed.
        let handshake = tls.map { _ in group.any().makePromise(of: Void.self) }
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(limits.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tls, let handshake {
                            try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                            try pipeline.addHandler(HandshakeWaiter(handshake: handshake))
                        }
                        try pipeline.addHTTPClientHandlers(decoderLimitConfiguration: headerLimits)
                        try pipeline.addHandler(ExchangeHandler(maxBodySize: maxBodySize))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
            if let handshake {
                let timeout = channel.eventLoop.scheduleTask(in: limits.connectTimeout) {
                    handshake.fail(AWSError(.timedOut, "no TLS handshake within \(limits.connectTimeout.nanoseconds / 1_000_000) ms"))
                    channel.close(promise: nil)
                }
                defer { timeout.cancel() }
                try await handshake.futureResult.get()
            }
            return HTTPConnection(channel: channel, endpoint: endpoint, requestTimeout: limits.requestTimeout)
        } catch {
            handshake?.fail(error)
            throw AWSError(.connectionFailed, "cannot connect to \(endpoint): \(error)")
        }
    }

    /// Sends `request` and waits for the whole response. `reusable` is false when the
    /// connection is no longer fit for another request (the server closes it, or it failed).
    /// Cancelling the calling task closes the connection.
    func execute(_ request: HTTPRequest) async throws -> (response: AWSResponse, reusable: Bool) {
        var headers = request.headers
        headers.replaceOrAdd(name: "Host", value: self.endpoint.hostHeader)
        if request.body != nil || request.method == .PUT || request.method == .POST {
            headers.replaceOrAdd(name: "Content-Length", value: String(request.body?.readableBytes ?? 0))
        }
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.target, headers: headers)
        let promise = self.channel.eventLoop.makePromise(of: Exchange.Outcome.self)
        let exchange = Exchange(head: head, body: request.body, timeout: self.requestTimeout, promise: promise)
        // On a channel already closed the write never reaches the exchange handler, which would
        // otherwise answer; its failure is then the answer (a later one is ignored).
        let written = self.channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            promise.fail(AWSError(.connectionFailed, "connection closed before the request was sent: \(error)"))
        }
        self.channel.writeAndFlush(exchange, promise: written)
        let channel = self.channel
        let outcome = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        try Task.checkCancellation()
        return (outcome.response, outcome.keepAlive && self.channel.isActive)
    }

    func close() {
        self.channel.close(promise: nil)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Completes `handshake` when TLS is established, or fails it with the error that ended it.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) {
        self.handshake = handshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            self.handshake.succeed()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.handshake.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.handshake.fail(AWSError(.connectionFailed, "connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }
}

/// A request on its way out, with the promise its response completes.
struct Exchange: Sendable {
    struct Outcome: Sendable {
        var response: AWSResponse
        var keepAlive: Bool
    }

    var head: HTTPRequestHead
    var body: ByteBuffer?
    var timeout: TimeAmount
    var promise: EventLoopPromise<Outcome>
}

/// Writes one ``Exchange`` at a time and collects its response, refusing bodies larger than
/// `maxBodySize` (by `Content-Length` before reading, or while reading). Any failure fails the
/// exchange and closes the connection, since the response stream can no longer be trusted.
final class ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private let maxBodySize: Int
    private var pending: (promise: EventLoopPromise<Exchange.Outcome>, isHead: Bool)?
    private var timeout: Scheduled<Void>?
    /// Why writing the current request failed, kept until the connection is gone.
    private var writeFailure: AWSError?
    private var responseHead: HTTPResponseHead?
    private var responseBody: ByteBuffer?

    init(maxBodySize: Int) {
        self.maxBodySize = maxBodySize
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = Self.unwrapOutboundIn(data)
        guard self.pending == nil, context.channel.isActive else {
            let error = AWSError(.connectionFailed, "connection is busy or closed")
            exchange.promise.fail(error)
            promise?.fail(error)
            return
        }
        self.pending = (exchange.promise, exchange.head.method == .HEAD)
        let loop = context.eventLoop.assumeIsolated()
        self.timeout = loop.scheduleTask(in: exchange.timeout) {
            self.fail(AWSError(.timedOut, "no complete response within \(exchange.timeout.nanoseconds / 1_000_000) ms"), context: context)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        // A failed write closes the connection; the error that caused it (a TLS handshake
        // failure, say) reaches errorCaught, which may run after this callback. So the write
        // failure is the answer only if nothing better arrives by the time the channel is gone.
        written.futureResult.assumeIsolated().whenFailure { error in
            self.writeFailure = AWSError(.connectionFailed, "sending the request failed: \(error)")
            context.close(promise: nil)
        }
        if let promise { written.futureResult.cascade(to: promise) }
        context.write(Self.wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body, body.readableBytes > 0 {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let pending = self.pending else {
            self.fail(AWSError(.malformedResponse, "response without a request"), context: context)
            return
        }
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            // A HEAD answer announces the object's length but carries no body.
            if !pending.isHead, let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }),
                length > self.maxBodySize
            {
                self.fail(
                    AWSError(.responseTooLarge, "response of \(length) bytes exceeds the limit of \(self.maxBodySize)"),
                    context: context
                )
                return
            }
            self.responseHead = head
            self.responseBody = context.channel.allocator.buffer(capacity: 0)
        case .body(var part):
            guard var body = self.responseBody else { return }
            guard body.readableBytes + part.readableBytes <= self.maxBodySize else {
                self.fail(
                    AWSError(.responseTooLarge, "response body exceeds the limit of \(self.maxBodySize) bytes"),
                    context: context
                )
                return
            }
            self.responseBody = nil
            body.writeBuffer(&part)
            self.responseBody = body
        case .end:
            guard let head = self.responseHead, let body = self.responseBody else { return }
            self.reset()
            let response = AWSResponse(status: head.status, headers: head.headers, body: body)
            pending.promise.succeed(Exchange.Outcome(response: response, keepAlive: head.isKeepAlive))
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(self.writeFailure ?? AWSError(.connectionFailed, "connection closed before a complete response"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure =
            switch error {
            case let error as AWSError: error
            case HTTPParserError.headerOverflow: AWSError(.responseTooLarge, "response headers exceed the limit")
            case let error as HTTPParserError: AWSError(.malformedResponse, "invalid HTTP response: \(error)")
            default: AWSError(.connectionFailed, "connection failed: \(error)")
            }
        self.fail(failure, context: context)
    }

    private func reset() {
        self.pending = nil
        self.writeFailure = nil
        self.timeout?.cancel()
        self.timeout = nil
        self.responseHead = nil
        self.responseBody = nil
    }

    private func fail(_ error: AWSError, context: ChannelHandlerContext) {
        let pending = self.pending
        self.reset()
        pending?.promise.fail(error)
        context.close(promise: nil)
    }
}
