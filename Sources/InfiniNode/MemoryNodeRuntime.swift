import Foundation
import InfiniNodeProtocol
import LambdaRuntimeAPI
import NIOCore
import NIOPosix
import RESP
import Synchronization

/// The memory node: a Lambda custom runtime. It takes invocations from the Runtime API named by
/// `AWS_LAMBDA_RUNTIME_API`, and for each `ping` dials the proxy's node port, authenticates with
/// the invocation's token, serves chunk requests from RAM until idle, and returns. The same
/// binary runs in AWS and as a local process of the proxy's local invoker.
public struct MemoryNodeRuntime: Sendable {
    /// How often a node linked to the proxy stores the operations of its current term, so a node
    /// killed mid-invocation loses at most this much of its lineage (its chunks stay in the COS,
    /// and reads still find them there).
    static let termInterval = Duration.seconds(1)

    private let memory: ChunkMemory
    private let persister: ChunkPersister?
    private let loader: ChunkLoader?
    private let helpers: HelperDuties
    private let runtimeAPIEndpoint: String?
    private let snapshotInterval: Int
    /// The lineage of the node this process serves, once an invocation has named it.
    private let currentLineage = LineageSlot()
    private let log: @Sendable (String) -> Void

    /// - Parameters:
    ///   - persister: writes chunks through to the COS; nil keeps them in memory only, with no
    ///     lineage.
    ///   - runtimeAPIEndpoint: `host:port` of the Runtime API; nil reads `AWS_LAMBDA_RUNTIME_API`.
    ///   - snapshotInterval: terms between snapshots of the lineage.
    ///   - log: where recovery reports what it does.
    public init(
        persister: ChunkPersister?,
        runtimeAPIEndpoint: String? = nil,
        snapshotInterval: Int = NodeLineage.defaultSnapshotInterval,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        let memory = ChunkMemory()
        self.memory = memory
        self.persister = persister
        self.loader = persister.map { ChunkLoader(memory: memory, persister: $0) }
        self.helpers = HelperDuties(persister: persister, log: log)
        self.runtimeAPIEndpoint = runtimeAPIEndpoint
        self.snapshotInterval = snapshotInterval
        self.log = log
    }

    /// Serves invocations until the Runtime API goes away.
    public func run() async throws {
        let runtime = try runtimeAPIEndpoint.map { try RuntimeAPIClient(endpoint: $0) } ?? RuntimeAPIClient.fromEnvironment()
        var lineage: NodeLineage?
        var startedEmpty = true
        while true {
            let invocation = try await runtime.nextInvocation()
            let event: InvocationEvent
            do {
                event = try InvocationEvent(decoding: invocation.payload)
            } catch {
                try await runtime.reportError(for: invocation.requestID, type: "InvalidEvent", message: "\(error)")
                continue
            }
            persister?.writeBehind = .milliseconds(event.writeBehindMilliseconds ?? 0)
            let restoredBefore = loader?.restored ?? 0
            var restoration: Restoration?
            if lineage?.node != event.nodeID {
                (lineage, restoration) = await openLineage(node: event.nodeID)
                currentLineage.lineage.withLock { [lineage] in $0 = lineage }
            }
            // Helped chunks live for one stay: the proxy routes reads to a helper's link only.
            defer { helpers.stopAll() }
            do {
                var requests = 0
                if event.command == .ping { requests = try await serve(event, lineage: lineage, restoration: restoration) }
                // A sandbox is frozen once it answers: what it restores and records must be
                // stored first.
                await restoration?.task.value
                await closeTerm(of: lineage)
                let outcome = InvocationOutcome(
                    nodeID: event.nodeID,
                    chunks: memory.count,
                    bytes: memory.usedBytes,
                    requests: requests,
                    restoredChunks: (loader?.restored ?? 0) - restoredBefore,
                    startedEmpty: startedEmpty
                )
                startedEmpty = false
                try await Self.unlessRefused { try await runtime.respond(to: invocation.requestID, payload: outcome.encoded()) }
            } catch {
                await restoration?.task.value
                await closeTerm(of: lineage)
                try await Self.unlessRefused {
                    try await runtime.reportError(for: invocation.requestID, type: "LinkFailed", message: "\(error)")
                }
            }
        }
    }

    /// Reads the node's lineage back and starts restoring the chunks it lists that memory lacks:
    /// after a cold start (a reclaimed sandbox, a killed process) that is all of them. Without a
    /// COS, or when the lineage cannot be read, there is none: the next invocation tries again,
    /// and meanwhile reads of chunks the node lacks still go to the COS one by one.
    private func openLineage(node: Int) async -> (NodeLineage?, Restoration?) {
        guard let persister, let loader else { return (nil, nil) }
        let recovery: NodeLineage.Recovery
        let lineage: NodeLineage
        do {
            (lineage, recovery) = try await NodeLineage.open(node: node, storage: persister.storage, snapshotInterval: snapshotInterval)
        } catch {
            log("node \(node): cannot read its lineage: \(error)")
            return (nil, nil)
        }
        if let problem = recovery.problem { log("node \(node): lineage cut after term \(recovery.head): \(problem)") }
        let missing = recovery.chunks.filter { memory.fetch(ByteBuffer(string: $0.key)) == nil }
        guard !missing.isEmpty else { return (lineage, nil) }
        let log = self.log
        log("node \(node): restoring \(missing.count) chunks listed by lineage term \(recovery.head)")
        let restoring = Task {
            let (start, before) = (ContinuousClock.now, loader.restored)
            let progress = Task {
                while true {
                    try await Task.sleep(for: .seconds(2))
                    log("node \(node): restoring, \(loader.restored - before) of \(missing.count) chunks back")
                }
            }
            let restored = await loader.restore(Array(missing.keys))
            progress.cancel()
            let elapsed = (ContinuousClock.now - start) / .milliseconds(1)
            log("node \(node): restored \(restored) of \(missing.count) chunks in \(Int(elapsed.rounded())) ms")
        }
        return (lineage, Restoration(chunks: missing.count, bytes: missing.values.reduce(0, +), task: restoring))
    }

    /// Tells the proxy, once linked, that the node is restoring, so it can bring in helpers, and
    /// when the restore is over.
    private static func announce(_ restoration: Restoration, on channel: any Channel) {
        var restoring = ByteBuffer()
        restoring.writePushHeader(3, protocol: .v3)
        restoring.writeBulkString(NodeProtocol.restoring)
        restoring.writeBulkString(String(restoration.chunks))
        restoring.writeBulkString(String(restoration.bytes))
        channel.writeAndFlush(restoring, promise: nil)
        Task {
            await restoration.task.value
            var restored = ByteBuffer()
            restored.writePushHeader(1, protocol: .v3)
            restored.writeBulkString(NodeProtocol.restored)
            try? await channel.writeAndFlush(restored)
        }
    }

    /// Finishes the COS writes already accepted, then stores the lineage term that records them,
    /// for a process told to stop (SIGTERM, or its proxy gone) between invocations or in one.
    public func drain() async {
        await persister?.waitUntilIdle()
        await closeTerm(of: currentLineage.lineage.withLock { $0 })
    }

    private func closeTerm(of lineage: NodeLineage?) async {
        guard let lineage else { return }
        do {
            try await lineage.closeTerm()
        } catch {
            log("node \(lineage.node): cannot store a lineage term (kept for the next one): \(error)")
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
    private func serve(_ event: InvocationEvent, lineage: NodeLineage?, restoration: Restoration?) async throws -> Int {
        let parts = event.proxyAddress.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw NodeRuntimeError("bad proxy address '\(event.proxyAddress)'")
        }
        let (memory, persister, loader, helpers) = (self.memory, self.persister, self.loader, self.helpers)
        let tally = NodeRequestHandler.Tally()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        IdleReturnHandler {
                            // Writes held back for overwrites go out now: the node is about to return.
                            if let persister, persister.backlog > 0 {
                                persister.expedite()
                                return true
                            }
                            return tally.isReading || loader?.isRestoring == true || helpers.isLoading
                        },
                        NodeRequestHandler(
                            memory: memory,
                            persister: persister,
                            loader: loader,
                            lineage: lineage,
                            helpers: helpers,
                            tally: tally
                        ) { channel in
                            if let restoration, loader?.isRestoring == true { Self.announce(restoration, on: channel) }
                        }
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
        let terms = Task {
            while true {
                try await Task.sleep(for: Self.termInterval)
                await closeTerm(of: lineage)
            }
        }
        defer { terms.cancel() }
        try await channel.closeFuture.get()
        return tally.value
    }
}

/// A restore from the lineage under way: what it brings back and the task doing it.
struct Restoration: Sendable {
    var chunks: Int
    var bytes: Int
    var task: Task<Void, Never>
}

/// A node-side failure, reported to the Runtime API as the invocation's error.
struct NodeRuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The lineage a runtime's invocations opened, where ``MemoryNodeRuntime/drain()`` finds it.
private final class LineageSlot: Sendable {
    let lineage = Mutex<NodeLineage?>(nil)
}
