import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import InfiniNode

/// The node's side of returning: it asks with `BYE` when idle and goes when the proxy closes the
/// link, serving anything that crossed its goodbye.
@Suite struct IdleReturnHandlerTests {
    private static let bye = ">1\r\n$3\r\nBYE\r\n"

    private func connectedChannel(isBusy: @escaping @Sendable () -> Bool = { false }) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: IdleReturnHandler(isBusy: isBusy))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func anIdleNodeAsksToReturnAndStaysUntilTheProxyCloses() throws {
        let channel = try connectedChannel()
        channel.embeddedEventLoop.advanceTime(by: IdleReturnHandler.firstRequestWindow - .milliseconds(1))
        #expect(try written(channel).isEmpty, "no goodbye before the first-request window ends")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try written(channel) == Self.bye)
        #expect(channel.isActive, "the proxy decides when the link closes")
        channel.embeddedEventLoop.advanceTime(by: IdleReturnHandler.unansweredGoodbyeLimit - .milliseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "a goodbye nobody answers ends the stay anyway")
    }

    @Test func aRequestThatCrossedTheGoodbyeIsServedAndTheWaitStartsOver() throws {
        let channel = try connectedChannel()
        channel.embeddedEventLoop.advanceTime(by: IdleReturnHandler.firstRequestWindow)
        #expect(try written(channel) == Self.bye)
        try channel.writeInbound(ByteBuffer(string: "*2\r\n$4\r\nCPING\r\n$1\r\n1\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) != nil, "the request goes on to be served")
        channel.embeddedEventLoop.advanceTime(by: IdleReturnHandler.unansweredGoodbyeLimit)
        #expect(channel.isActive, "the earlier goodbye no longer counts")
        #expect(try written(channel) == Self.bye, "idle again, it asks again")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aSteadyStreamKeepsTheNodeAndItsEndStartsTheWindow() throws {
        let channel = try connectedChannel()
        let request = ByteBuffer(string: "*2\r\n$4\r\nCPING\r\n$1\r\n1\r\n")
        for _ in 0..<60 {
            try channel.writeInbound(request)
            _ = try channel.readInbound(as: ByteBuffer.self)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))
        }
        #expect(try written(channel).isEmpty, "a request every 50 ms for 3 s keeps the node")
        // Four mean gaps of 50 ms from the last request, of which 50 ms have passed.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(149))
        #expect(try written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try written(channel) == Self.bye)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aBusyNodeDoesNotAskToReturn() throws {
        let box = BusyFlag(busy: true)
        let channel = try connectedChannel { box.value }
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try written(channel).isEmpty)
        box.value = false
        channel.embeddedEventLoop.advanceTime(by: IdleReturnHandler.shortestWindow)
        #expect(try written(channel) == Self.bye)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}

/// A flag the test flips while the handler polls it.
private final class BusyFlag: Sendable {
    private let state: Mutex<Bool>
    init(busy: Bool) { state = Mutex(busy) }
    var value: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
