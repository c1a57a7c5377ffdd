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
    private let persister: ChunkPersister?
    private let runtimeAPIEndpoint: String?

    /// - Parameters:
    ///   - persister: writes chunks through to the COS; nil keeps them in memory only.
    ///   - runtimeAPIEndpoint: `host:port` of the Runtime API; nil reads `AWS_LAMBDA_RUNTIME_API`.
    public init(persister: ChunkPersister?, runtimeAPIEndpoint: String? = nil) {
        self.persister = persister
        self.runtimeAPIEndpoint = runtimeAPIEndpoint
    }

    /// Serves invocations until the Runtime API goes away.
    public func run() async throws {
        let runtime = try runtimeAPIEndpoint.map { try RuntimeAPIClient(endpoint: $0) } ?? RuntimeAPIClient.fromEnvironment()
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
                try await Self.unlessRefused { try await runtime.respond(to: invocation.requestID, payload: outcome.encoded()) }
            } catch {
                try await Self.unlessRefused {
                    try await runtime.reportError(for: invocation.requestID, type: "LinkFailed", message: "\(error)")
                }
            }
        }
    }

    /// Runs `answer`, letting a refusal by the Runtime API pass: the invoker gave up on the
    /// invocation (it timed out, or the proxy is stopping), and the node, memory intact, goes on
    /// to the next one instead of exiting.
    private static func unlessRefused(_ answer: () async throws -> Void) async throws {
        do {
            try await answer()
        } catch let error as RuntimeAPIError where error.code == .unexpectedStatus {
            return
        }
    }

    /// One stay: connect, say hello, answer requests until the idle handler closes the link.
    /// Returns how many requests were served.
    private func serve(_ event: InvocationEvent) async throws -> Int {
        let parts = event.proxyAddress.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw NodeRuntimeError("bad proxy address '\(event.proxyAddress)'")
        }
        let memory = self.memory
        let persister = self.persister
        let tally = NodeRequestHandler.Tally()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        IdleReturnHandler { (persister?.backlog ?? 0) > 0 || tally.isReading },
                        NodeRequestHandler(memory: memory, persister: persister, tally: tally)
                    )
                }
            }
            .connect(host: String(parts[0]), port: port)
            .get()
        var hello = ByteBuffer()
        hello.writeArrayHeader(4)
        hello.writeBulkString(NodeProtocol.hello)
        hello.writeBulkString(String(event.nodeID))
        hello.writeBulkString(event.session)
        hello.writeBulkString(event.token)
        try await channel.writeAndFlush(hello)
        try await channel.closeFuture.get()
        return tally.value
    }
}

/// A node-side failure, reported to the Runtime API as the invocation's error.
struct NodeRuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
