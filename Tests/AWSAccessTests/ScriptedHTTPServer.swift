import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback HTTP/1.1 server whose answers come from a script, counting requests and the
/// most connections it ever had open at once.
final class ScriptedHTTPServer: Sendable {
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: String = ""
        /// Announce this length instead of the body's (the body is then not sent).
        var claimedLength: Int?
        /// Wait this long before answering.
        var delay: TimeAmount = .zero
    }

    struct Statistics {
        var requests: [HTTPRequestHead] = []
        var openConnections = 0
        var peakConnections = 0
    }

    private let channel: any Channel
    private let statistics: NIOLockedValueBox<Statistics>
    let port: Int

    /// Starts the server; `script` answers the n-th request (0-based).
    init(script: @escaping @Sendable (Int, HTTPRequestHead) -> Answer) async throws {
        let statistics = NIOLockedValueBox(Statistics())
        self.statistics = statistics
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptHandler(script: script, statistics: statistics)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.port = self.channel.localAddress!.port!
    }

    var snapshot: Statistics { self.statistics.withLockedValue { $0 } }

    func stop() async throws {
        try await self.channel.close()
    }
}

private final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let script: @Sendable (Int, HTTPRequestHead) -> ScriptedHTTPServer.Answer
    let statistics: NIOLockedValueBox<ScriptedHTTPServer.Statistics>
    var head: HTTPRequestHead?

    init(
        script: @escaping @Sendable (Int, HTTPRequestHead) -> ScriptedHTTPServer.Answer,
        statistics: NIOLockedValueBox<ScriptedHTTPServer.Statistics>
    ) {
        self.script = script
        self.statistics = statistics
    }

    func channelActive(context: ChannelHandlerContext) {
        self.statistics.withLockedValue {
            $0.openConnections += 1
            $0.peakConnections = max($0.peakConnections, $0.openConnections)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.statistics.withLockedValue { $0.openConnections -= 1 }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            let index = self.statistics.withLockedValue {
                $0.requests.append(head)
                return $0.requests.count - 1
            }
            let answer = self.script(index, head)
            context.eventLoop.assumeIsolated().scheduleTask(in: answer.delay) {
                self.respond(answer, to: head, context: context)
            }
        }
    }

    private func respond(_ answer: ScriptedHTTPServer.Answer, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(answer.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(answer.claimedLength ?? answer.body.utf8.count))
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))),
            promise: nil
        )
        if answer.claimedLength == nil, head.method != .HEAD, !answer.body.isEmpty {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}
