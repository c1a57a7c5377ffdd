import NIOCore
import NIOEmbedded
import RESP
import Testing

@testable import InfiniProxy

/// The proxy's side of a node's `BYE`: the link closes only once none of the proxy's requests is
/// on the way, so a request that crossed the goodbye gets its answer.
@Suite struct NodeLinkHandlerTests {
    private static let bye = ByteBuffer(string: ">1\r\n$3\r\nBYE\r\n")

    private func linkedChannel() throws -> (EmbeddedChannel, NodeLinkHandler) {
        let handler = NodeLinkHandler(nodeID: 3, persistence: nil, requestTimeout: .seconds(30), onClose: {})
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, handler)
    }

    @Test func aGoodbyeWithARequestOnTheWayLeavesTheLinkOpenUntilItIsAnswered() throws {
        let (channel, handler) = try linkedChannel()
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        handler.send(id: 1, parts: [ByteBuffer(string: "*2\r\n$5\r\nCPING\r\n$1\r\n1\r\n")], promise: reply)
        try channel.writeInbound(Self.bye)
        #expect(channel.isActive, "the node must answer what crossed its goodbye")
        try channel.writeInbound(ByteBuffer(string: "*3\r\n$1\r\n1\r\n+PONG\r\n:0\r\n"))
        #expect(try reply.futureResult.wait().stringValue == "PONG")
        #expect(channel.isActive)
        try channel.writeInbound(Self.bye)
        #expect(!channel.isActive, "idle on both sides: the proxy lets the node go")
    }

    @Test func aRequestAfterTheLinkLetTheNodeGoFailsAsAReturn() throws {
        let (channel, handler) = try linkedChannel()
        try channel.writeInbound(Self.bye)
        #expect(!channel.isActive)
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        handler.send(id: 2, parts: [ByteBuffer(string: "*2\r\n$5\r\nCPING\r\n$1\r\n2\r\n")], promise: reply)
        let error = #expect(throws: NodeLinkClosed.self) { try reply.futureResult.wait() }
        #expect(error?.nodeReturned == true, "retried on a fresh invocation, not treated as a lost node")
        #expect(error?.description == "memory node 3: the node returned")
    }
}
