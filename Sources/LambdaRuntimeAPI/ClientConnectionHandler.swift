import NIOCore
import NIOHTTP1

/// A request to the Runtime API together with the promise its response completes.
struct ClientRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: ByteBuffer?
    var responsePromise: EventLoopPromise<ClientResponse>
}

/// A complete, size-checked response from the Runtime API.
struct ClientResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// Turns `ClientRequest`s into HTTP/1.1 messages on one keep-alive connection and pairs the
/// responses with them in order. Untrusted responses are bounded: a body larger than
/// `maxBodySize` fails the request and closes the connection rather than buffering it.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = ClientRequest
    typealias OutboundOut = HTTPClientRequestPart

    private let maxBodySize: Int
    private let hostHeader: String
    private var inFlight = CircularBuffer<EventLoopPromise<ClientResponse>>()
    private var currentHead: HTTPResponseHead?
    private var currentBody: ByteBuffer?
    private var isClosed = false

    init(maxBodySize: Int, hostHeader: String) {
        self.maxBodySize = maxBodySize
        self.hostHeader = hostHeader
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        guard !self.isClosed else {
            let error = RuntimeAPIError(.connectionClosed, "connection to the runtime API is closed")
            request.responsePromise.fail(error)
            promise?.fail(error)
            return
        }
        self.inFlight.append(request.responsePromise)

        var headers = request.headers
        headers.replaceOrAdd(name: "Host", value: self.hostHeader)
        headers.replaceOrAdd(name: "User-Agent", value: "infinistore-lambda-runtime")
        if request.method == .POST || request.body != nil {
            headers.replaceOrAdd(name: "Content-Length", value: String(request.body?.readableBytes ?? 0))
        }
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)

        // Any failed write leaves the request/response pairing unknowable, so the connection
        // is abandoned as a whole and every waiting request fails.
        let writePromise = context.eventLoop.makePromise(of: Void.self)
        writePromise.futureResult.assumeIsolated().whenFailure { [weak self] error in
            self?.failAll(
                RuntimeAPIError(.connectionClosed, "sending to the runtime API failed: \(error)"),
                context: context
            )
        }
        if let promise { writePromise.futureResult.cascade(to: promise) }

        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(Self.wrapOutboundOut(.end(nil)), promise: writePromise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            guard !self.inFlight.isEmpty else {
                self.failAll(
                    RuntimeAPIError(.malformedResponse, "unsolicited response from the runtime API"),
                    context: context
                )
                return
            }
            if let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > self.maxBodySize {
                self.failAll(
                    RuntimeAPIError(
                        .responseTooLarge,
                        "runtime API response of \(length) bytes exceeds the limit of \(self.maxBodySize)"
                    ),
                    context: context
                )
                return
            }
            self.currentHead = head
            self.currentBody = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            guard self.currentHead != nil, var body = self.currentBody else { return }
            guard body.readableBytes + chunk.readableBytes <= self.maxBodySize else {
                self.failAll(
                    RuntimeAPIError(
                        .responseTooLarge,
                        "runtime API response body exceeds the limit of \(self.maxBodySize) bytes"
                    ),
                    context: context
                )
                return
            }
            self.currentBody = nil
            body.writeBuffer(&chunk)
            self.currentBody = body
        case .end:
            guard let head = self.currentHead, let body = self.currentBody else { return }
            self.currentHead = nil
            self.currentBody = nil
            let promise = self.inFlight.removeFirst()
            promise.succeed(ClientResponse(status: head.status, headers: head.headers, body: body))
            if !head.isKeepAlive {
                self.failAll(
                    RuntimeAPIError(.connectionClosed, "runtime API closed the connection"),
                    context: context
                )
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(
            RuntimeAPIError(.connectionClosed, "runtime API connection closed before a complete response"),
            context: context
        )
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: RuntimeAPIError
        switch error {
        case let error as RuntimeAPIError:
            failure = error
        case HTTPParserError.headerOverflow:
            failure = RuntimeAPIError(.responseTooLarge, "runtime API response headers exceed the configured limit")
        case let error as HTTPParserError:
            failure = RuntimeAPIError(.malformedResponse, "runtime API sent invalid HTTP: \(error)")
        default:
            failure = RuntimeAPIError(.connectionClosed, "runtime API connection failed: \(error)")
        }
        self.failAll(failure, context: context)
    }

    /// Fails every waiting request and closes the connection; the client reconnects on the
    /// next call.
    private func failAll(_ error: RuntimeAPIError, context: ChannelHandlerContext) {
        let wasClosed = self.isClosed
        self.isClosed = true
        self.currentHead = nil
        self.currentBody = nil
        while let promise = self.inFlight.popFirst() {
            promise.fail(error)
        }
        if !wasClosed {
            context.close(promise: nil)
        }
    }
}
