import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import LambdaRuntimeAPI

/// Fails every write, standing in for a connection that died under a parked poll before the
/// server noticed.
private final class FailingWrites: ChannelOutboundHandler {
    typealias OutboundIn = HTTPServerResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.ioOnClosedChannel)
    }
}

/// The server's state machine driven through its connection handler on embedded channels,
/// for paths that real sockets cannot trigger deterministically.
@Suite("Server core on embedded channels")
struct ServerCoreTests {
    private static func poll(_ channel: EmbeddedChannel) throws {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: RuntimeAPIProtocol.nextInvocationPath)
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
    }

    @Test func invocationIsRequeuedWhenWritingItToThePollerFails() throws {
        let loop = EmbeddedEventLoop()
        let core = ServerCore(eventLoop: loop)

        let broken = EmbeddedChannel(loop: loop)
        try broken.pipeline.syncOperations.addHandlers([
            FailingWrites(), ServerConnectionHandler(core: core, maxBodySize: 1024),
        ])
        try Self.poll(broken)
        #expect(core.parkedPollCount == 1)

        var result: InvocationResult?
        let promise = loop.makePromise(of: InvocationResult.self)
        promise.futureResult.assumeIsolated().whenSuccess { result = $0 }
        core.enqueue(
            PendingInvocation(
                requestID: "req-1",
                payload: ByteBuffer(bytes: [1, 2]),
                deadlineEpochMilliseconds: 0,
                functionARN: "arn",
                traceID: "trace",
                promise: promise
            ),
            timeout: .seconds(30)
        )
        #expect(core.parkedPollCount == 0)
        #expect(core.pendingInvocationCount == 1)
        #expect(!broken.isActive)

        let healthy = EmbeddedChannel(handler: ServerConnectionHandler(core: core, maxBodySize: 1024), loop: loop)
        try Self.poll(healthy)
        guard case .head(let head) = try #require(try healthy.readOutbound(as: HTTPServerResponsePart.self)) else {
            Issue.record("expected a response head")
            return
        }
        #expect(head.status == .ok)
        #expect(head.headers.first(name: "Lambda-Runtime-Aws-Request-Id") == "req-1")
        guard
            case .body(.byteBuffer(let body)) = try #require(try healthy.readOutbound(as: HTTPServerResponsePart.self))
        else {
            Issue.record("expected a response body")
            return
        }
        #expect(Array(body.readableBytesView) == [1, 2])

        var answer = HTTPRequestHead(
            version: .http1_1,
            method: .POST,
            uri: RuntimeAPIProtocol.responsePath(for: "req-1")
        )
        answer.headers.add(name: "Content-Length", value: "1")
        try healthy.writeInbound(HTTPServerRequestPart.head(answer))
        try healthy.writeInbound(HTTPServerRequestPart.body(ByteBuffer(bytes: [9])))
        try healthy.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(result == .response([9]))
        #expect(core.pendingInvocationCount == 0)

        _ = try healthy.finish()
        _ = try? broken.finish()
    }
}
