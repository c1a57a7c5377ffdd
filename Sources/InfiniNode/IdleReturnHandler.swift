import NIOCore
import InfiniNodeProtocol
import RESP

/// Ends a node's stay when no request is expected any more: after each request it waits a short
/// window measured from the recent gaps between requests, then says `BYE`; the proxy closes the
/// link once nothing of its own is on the way, so the invocation returns and billing stops. A
/// request that crossed the `BYE` is served and the wait starts over; a proxy that never answers
/// is left after ``unansweredGoodbyeLimit``.
final class IdleReturnHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a freshly invoked node waits for its first request.
    static let firstRequestWindow = TimeAmount.seconds(1)
    static let shortestWindow = TimeAmount.milliseconds(100)
    static let longestWindow = TimeAmount.seconds(2)
    /// How long a `BYE` may go unanswered (no close, no request) before the node closes itself.
    static let unansweredGoodbyeLimit = TimeAmount.seconds(5)

    /// Whether the node still has work that must finish before it returns (COS writes).
    private let isBusy: @Sendable () -> Bool
    private var lastRead: NIODeadline?
    /// Exponentially weighted mean gap between reads, in nanoseconds.
    private var meanGap: Double?
    private var timer: Scheduled<Void>?
    /// When the armed timer fires.
    private var timerDeadline: NIODeadline?
    /// The node stays at least until then: the last read plus the window. Reads only move it,
    /// and the timer is re-armed when it fires early, so a read costs no timer of its own.
    private var quietUntil: NIODeadline?
    private var saidGoodbye = false

    init(isBusy: @escaping @Sendable () -> Bool = { false }) {
        self.isBusy = isBusy
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context, at: context.eventLoop.now + Self.firstRequestWindow) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context: context, at: context.eventLoop.now + Self.firstRequestWindow)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The loop's clock, which a test's embedded loop advances.
        let now = context.eventLoop.now
        if let lastRead {
            let gap = Double((now - lastRead).nanoseconds)
            meanGap = meanGap.map { 0.8 * $0 + 0.2 * gap } ?? gap
        }
        lastRead = now
        saidGoodbye = false
        let quietUntil = now + window
        self.quietUntil = quietUntil
        if timerDeadline.map({ $0 > quietUntil }) ?? true { arm(context: context, at: quietUntil) }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// Four mean gaps: long enough to ride out a pause in a steady stream of requests, short
    /// enough that a node whose client went quiet returns within a few round trips. Never below
    /// 100 ms, the original system's extension after a request, so a proxy busy coding the next
    /// stripe does not lose its nodes between stripes.
    var window: TimeAmount {
        guard let meanGap else { return Self.firstRequestWindow }
        let nanoseconds = Int64(min(max(4 * meanGap, Double(Self.shortestWindow.nanoseconds)), Double(Self.longestWindow.nanoseconds)))
        return .nanoseconds(nanoseconds)
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timerDeadline = deadline
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            handler.value.timerFired(context: loopBound.value)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        if let quietUntil, context.eventLoop.now < quietUntil {
            arm(context: context, at: quietUntil)
            return
        }
        sayGoodbye(context: context)
    }

    private func sayGoodbye(context: ChannelHandlerContext) {
        if saidGoodbye {
            context.close(promise: nil)
            return
        }
        if isBusy() {
            arm(context: context, at: context.eventLoop.now + Self.shortestWindow)
            return
        }
        saidGoodbye = true
        var bye = context.channel.allocator.buffer(capacity: 16)
        bye.writePushHeader(1, protocol: .v3)
        bye.writeBulkString(NodeProtocol.bye)
        context.writeAndFlush(wrapOutboundOut(bye), promise: nil)
        arm(context: context, at: context.eventLoop.now + Self.unansweredGoodbyeLimit)
    }
}
