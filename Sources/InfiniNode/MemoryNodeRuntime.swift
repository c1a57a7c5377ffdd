import Foundation
import InfiniNodeProtocol
import LambdaRuntimeAPI
import NIOCore
import NIOPosix
import RESP

/// The memory node: a Lambda custom runtime. It takes invocations from the Runtime API named by
/// `AWS_LAMBDA_RUNTIME_API`, and for each `ping` dials the proxy's node port, authenticates with
/// the invocation's token, serves chunk requests from RAM until idle, and returns. The same
/// binary runs in AWS and as a local process of the proxy's local invoker.
public struct MemoryNodeRuntime: Sendable {
    private let memory = ChunkMemory()

    public init() {}

    /// Serves invocations until the Runtime API goes away.
    public func run() async throws {
        let runtime = try RuntimeAPIClient.fromEnvironment()
        while true {
            let invocation = try await runtime.nextInvocation()
            let event: InvocationEvent
            do {
                event = try InvocationEvent(decoding: invocation.payload)
            } catch {
                try await runtime.reportError(for: invocation.requestID, type: "InvalidEvent", message: "\(error)")
                continue
            }
            do {
                var requests = 0
                if event.command == .ping { requests = try await serve(event) }
                let outcome = InvocationOutcome(
                    nodeID: event.nodeID,
                    chunks: memory.count,
                    bytes: memory.usedBytes,
                    requests: requests
                )
                try await runtime.respond(to: invocation.requestID, payload: outcome.encoded())
            } catch {
                try await runtime.reportError(for: invocation.requestID, type: "LinkFailed", message: "\(error)")
            }
        }
    }

    /// One stay: connect, say hello, answer requests until the idle handler closes the link.
    /// Returns how many requests were served.
    private func serve(_ event: InvocationEvent) async throws -> Int {
        let parts = event.proxyAddress.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw NodeRuntimeError("bad proxy address '\(event.proxyAddress)'")
        }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: String(parts[0]), port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleReturnHandler())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var hello = ByteBuffer()
            hello.writeArrayHeader(4)
            hello.writeBulkString(NodeProtocol.hello)
            hello.writeBulkString(String(event.nodeID))
            hello.writeBulkString(event.session)
            hello.writeBulkString(event.token)
            try await outbound.write(hello)

            var parser = RESPCommandParser(
                limits: .init(maximumBulkLength: NodeProtocol.maximumFrameLength)
            )
            var pending = ByteBuffer()
            var acknowledged = false
            var served = 0
            for try await var bytes in inbound {
                pending.writeBuffer(&bytes)
                if !acknowledged {
                    guard pending.readableBytes >= 5 else { continue }
                    guard pending.readString(length: 5) == "+OK\r\n" else {
                        throw NodeRuntimeError("the proxy refused the link")
                    }
                    acknowledged = true
                }
                var replies = ByteBuffer()
                while let request = try parser.next(from: &pending) {
                    handle(request, into: &replies)
                    served += 1
                }
                if replies.readableBytes > 0 { try await outbound.write(replies) }
                pending.discardReadBytes()
            }
            return served
        }
    }

    private func handle(_ request: [ByteBuffer], into replies: inout ByteBuffer) {
        guard request.count >= 2, let command = NodeProtocol.Command(rawValue: String(buffer: request[0])) else {
            replies.writeError("ERR unknown node request")
            return
        }
        replies.writeArrayHeader(3)
        replies.writeBulkString(request[1])
        switch (command, request.count) {
        case (.set, 4):
            memory.store(ByteBuffer(buffer: request[2]), ByteBuffer(buffer: request[3]))
            replies.writeSimpleString("OK")
        case (.get, 3):
            if let chunk = memory.fetch(request[2]) { replies.writeBulkString(chunk) } else { replies.writeNull(protocol: .v2) }
        case (.delete, _):
            replies.writeRESPInteger(request.dropFirst(2).filter { memory.remove($0) }.count)
        case (.ping, 2):
            replies.writeSimpleString("PONG")
        default:
            replies.writeError("ERR wrong number of arguments for '\(command.rawValue)'")
        }
        replies.writeRESPInteger(memory.usedBytes)
    }
}

/// A node-side failure, reported to the Runtime API as the invocation's error.
struct NodeRuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ByteBuffer {
    /// An owned copy, so a stored chunk does not pin the whole receive buffer.
    init(buffer: ByteBuffer) {
        self = ByteBuffer(bytes: buffer.readableBytesView)
    }
}
