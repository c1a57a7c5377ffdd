import NIOCore
import NIOHTTP1

/// Serves the Runtime API endpoints on one connection from the function's runtime.
///
/// Requests are answered in arrival order; a `GET next` parks in the `ServerCore` until an
/// invocation is available. Bodies are bounded: a larger one is answered with 413 at once, and
/// the connection is closed after the rest of that body has been read, so the client is not
/// reset before it sees the 413. A body beyond twice the limit is not drained: the connection
/// is closed straight away.
final class ServerConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead)
        case rejecting(received: Int)
        case polling(HTTPRequestHead)
        case closed
    }

    private let core: ServerCore
    private let maxBodySize: Int
    private var state = State.idle
    /// The body of the request in `.receiving`, kept outside the enum so appending to it
    /// never copies.
    private var body = ByteBuffer()
    private var context: ChannelHandlerContext?

    init(core: ServerCore, maxBodySize: Int) {
        self.core = core
        self.maxBodySize = maxBodySize
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if !self.core.register(context.channel) {
            self.state = .closed
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.tearDown(context: context)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.tearDown(context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors were already answered with 400 by HTTPServerProtocolErrorHandler;
        // either way this connection is done, the server itself keeps serving.
        self.tearDown(context: context)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        switch (self.state, part) {
        case (.idle, .head(let head)):
            if let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > self.maxBodySize {
                self.reject(received: 0, context: context)
            } else {
                self.state = .receiving(head)
                self.body = context.channel.allocator.buffer(capacity: 0)
            }
        case (.receiving, .body(var chunk)):
            let received = self.body.readableBytes + chunk.readableBytes
            if received > self.maxBodySize {
                self.body = ByteBuffer()
                self.reject(received: received, context: context)
            } else {
                self.body.writeBuffer(&chunk)
            }
        case (.receiving(let head), .end):
            let body = self.body
            self.body = ByteBuffer()
            self.state = .idle
            self.route(head: head, body: body, context: context)
        case (.rejecting(let received), .body(let chunk)):
            let total = received + chunk.readableBytes
            if total > 2 * self.maxBodySize {
                self.closeConnection(context: context)
            } else {
                self.state = .rejecting(received: total)
            }
        case (.rejecting, .end):
            self.closeConnection(context: context)
        case (.polling, _):
            // A request pipelined behind a pending long poll cannot be answered in order
            // before an invocation arrives; a Lambda runtime never does this.
            self.closeConnection(context: context)
        case (.closed, _):
            break
        case (.idle, .body), (.idle, .end), (.receiving, .head), (.rejecting, .head):
            self.closeConnection(context: context)
        }
    }

    /// Writes an invocation as the response to the parked `next` request. If that fails the
    /// core requeues the invocation for the next poll.
    func deliver(_ invocation: PendingInvocation) {
        guard case .polling(let request) = self.state, let context = self.context else {
            self.core.deliveryFailed(requestID: invocation.requestID)
            return
        }
        self.state = .idle
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Length", value: String(invocation.payload.readableBytes))
        headers.add(name: RuntimeAPIProtocol.requestIDHeader, value: invocation.requestID)
        headers.add(name: RuntimeAPIProtocol.deadlineHeader, value: String(invocation.deadlineEpochMilliseconds))
        headers.add(name: RuntimeAPIProtocol.functionARNHeader, value: invocation.functionARN)
        headers.add(name: RuntimeAPIProtocol.traceIDHeader, value: invocation.traceID)
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        let written = context.eventLoop.makePromise(of: Void.self)
        let requestID = invocation.requestID
        written.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                if !keepAlive { self.closeConnection(context: context) }
            case .failure:
                self.core.deliveryFailed(requestID: requestID)
                self.closeConnection(context: context)
            }
        }
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))),
            promise: nil
        )
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(invocation.payload))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
    }

    private func route(head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""

        if path == RuntimeAPIProtocol.nextInvocationPath {
            guard head.method == .GET else { return self.methodNotAllowed(head: head, context: context) }
            self.state = .polling(head)
            self.core.poll(self)
            return
        }

        if path == RuntimeAPIProtocol.initErrorPath {
            guard head.method == .POST else { return self.methodNotAllowed(head: head, context: context) }
            self.core.recordInitializationError(Self.errorDocument(head: head, body: body))
            return self.accepted(head: head, context: context)
        }

        if path.hasPrefix(RuntimeAPIProtocol.invocationPathPrefix) {
            let parts = path.dropFirst(RuntimeAPIProtocol.invocationPathPrefix.count)
                .split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, parts[1] == "response" || parts[1] == "error" {
                guard head.method == .POST else { return self.methodNotAllowed(head: head, context: context) }
                let result: InvocationResult
                if parts[1] == "response" {
                    result = .response(Array(body.readableBytesView))
                } else {
                    let error = Self.errorDocument(head: head, body: body)
                    result = .functionError(type: error.type, message: error.message)
                }
                guard self.core.complete(requestID: String(parts[0]), with: result) else {
                    return self.reply(
                        .badRequest,
                        error: ErrorDocument(
                            type: "InvalidRequestID",
                            message: "request id \(parts[0]) is not the invocation in progress"
                        ),
                        head: head,
                        context: context
                    )
                }
                return self.accepted(head: head, context: context)
            }
        }

        self.reply(
            .notFound,
            error: ErrorDocument(type: "NotFound", message: "no runtime API endpoint at \(path)"),
            head: head,
            context: context
        )
    }

    /// The error a runtime reported: the body's `errorType`, else the
    /// `Lambda-Runtime-Function-Error-Type` header, else "Unhandled"; the body's
    /// `errorMessage`, else the raw body text.
    private static func errorDocument(head: HTTPRequestHead, body: ByteBuffer) -> ErrorDocument {
        let members = ErrorDocument.decodeMembers(body.readableBytesView)
        let headerType = head.headers.first(name: RuntimeAPIProtocol.functionErrorTypeHeader)
        let type = [members?.type, headerType].compactMap { $0 }.first { !$0.isEmpty } ?? "Unhandled"
        let message = members?.message ?? String(decoding: body.readableBytesView, as: UTF8.self)
        return ErrorDocument(type: type, message: message)
    }

    private func accepted(head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.reply(
            .accepted,
            body: Array(#"{"status":"OK"}"#.utf8),
            keepAlive: head.isKeepAlive,
            version: head.version,
            context: context
        )
    }

    private func methodNotAllowed(head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.reply(
            .methodNotAllowed,
            error: ErrorDocument(type: "MethodNotAllowed", message: "\(head.method) is not allowed on \(head.uri)"),
            head: head,
            context: context
        )
    }

    private func reply(
        _ status: HTTPResponseStatus,
        error: ErrorDocument,
        head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        self.reply(status, body: error.encoded(), keepAlive: head.isKeepAlive, version: head.version, context: context)
    }

    private func reject(received: Int, context: ChannelHandlerContext) {
        self.state = .rejecting(received: received)
        let error = ErrorDocument(
            type: "RequestEntityTooLarge",
            message: "request body exceeds the limit of \(self.maxBodySize) bytes"
        )
        // Announced as closing, but closed only once the rest of the body is read (see above).
        self.reply(
            .payloadTooLarge,
            body: error.encoded(),
            keepAlive: false,
            version: .http1_1,
            context: context,
            closeAfterWrite: false
        )
    }

    private func reply(
        _ status: HTTPResponseStatus,
        body: [UInt8],
        keepAlive: Bool,
        version: HTTPVersion,
        context: ChannelHandlerContext,
        closeAfterWrite: Bool = true
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))),
            promise: nil
        )
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        if !keepAlive && closeAfterWrite {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in
                self.closeConnection(context: context)
            }
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
        } else {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private func closeConnection(context: ChannelHandlerContext) {
        self.tearDown(context: context)
        context.close(promise: nil)
    }

    /// Releases this connection's hold on the core exactly once.
    private func tearDown(context: ChannelHandlerContext) {
        if case .closed = self.state { return }
        self.state = .closed
        self.core.withdraw(self)
        self.core.unregister(context.channel)
    }
}
