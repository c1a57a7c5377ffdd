import ArgumentParser
import Foundation
import InfiniCoding
import InfiniProxy
import NIOCore
import UnixSignals

/// `infinistore serve`: the proxy with local memory-node processes.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Redis clients, storing values erasure-coded over local memory nodes."
    )

    @Option(help: "Client (Redis) port; 0 picks a free one.")
    var port = 6378

    @Option(name: .customLong("node-port"), help: "Port memory nodes dial into; 0 picks a free one.")
    var nodePort = 6379

    @Option(help: "Address to listen on.")
    var bind = "127.0.0.1"

    @Option(help: "Erasure code as DATA+PARITY.")
    var ec = "10+2"

    @Option(help: "Number of local memory nodes (default: data + parity + 2).")
    var nodes: Int?

    @Option(
        name: .customLong("reclaim-after"),
        help: "Kill a local node process idle this many seconds, as Lambda reclaims idle sandboxes (default: never)."
    )
    var reclaimAfter: Double?

    @Option(help: "Password clients must AUTH with (Redis's requirepass).")
    var requirepass: String?

    @Option(help: "Most simultaneous client connections (Redis's maxclients).")
    var maxclients = 10_000

    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest value a client may send, in bytes.")
    var maximumBulkLength = 512 << 20

    func validate() throws {
        let geometry = try parsedGeometry()
        if let reclaimAfter, !(reclaimAfter > 0) { throw ValidationError("--reclaim-after must be positive") }
        guard maxclients >= 1 else { throw ValidationError("--maxclients must be at least 1") }
        guard maximumBulkLength >= 1, maximumBulkLength <= 1 << 30 else {
            throw ValidationError("--proto-max-bulk-len must be between 1 and 1073741824")
        }
        if let nodes, nodes < geometry.totalShards {
            throw ValidationError("--nodes \(nodes) is fewer than the \(geometry.totalShards) chunks of each object (--ec \(ec))")
        }
    }

    private func parsedGeometry() throws -> ErasureGeometry {
        do {
            return try ErasureGeometry(ec)
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let geometry = try parsedGeometry()
        let nodeCount = nodes ?? geometry.totalShards + 2
        let invoker = LocalInvoker(
            configuration: .init(
                executable: Self.executablePath(),
                reclaimAfterIdle: reclaimAfter.map { .milliseconds(Int64($0 * 1000)) }
            )
        )
        let pool = NodePool(configuration: .init(nodeCount: nodeCount), invoker: invoker)
        let store = ObjectStore(configuration: .init(geometry: geometry), nodes: pool.chunkNodes)
        let proxy = ProxyServer(
            configuration: .init(
                host: bind,
                port: port,
                maximumBulkLength: maximumBulkLength,
                password: requirepass,
                maximumClients: maxclients
            ),
            store: store
        )
        let nodePortServer = NodePortServer(host: bind, port: nodePort, pool: pool)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)

        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (nodePortReady, nodePortBound) = AsyncStream.makeStream(of: Int.self)
                group.addTask { await pool.run() }
                if reclaimAfter != nil { group.addTask { await invoker.run() } }
                group.addTask {
                    try await nodePortServer.run { address in nodePortBound.yield(address.port ?? 0) }
                }
                var ready = nodePortReady.makeAsyncIterator()
                guard let boundNodePort = await ready.next() else { return }
                group.addTask {
                    try await proxy.run { address in
                        Self.say(
                            "serving Redis on \(bind):\(address.port ?? 0); memory nodes dial \(bind):\(boundNodePort); "
                                + "\(nodeCount) local nodes, EC \(geometry)"
                        )
                    }
                }
                group.addTask {
                    for await signal in signals {
                        Self.say("received \(signal), shutting down")
                        return
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await invoker.shutdown()
            Self.say("error: \(error)")
            throw ExitCode.failure
        }
        await invoker.shutdown()
    }

    static func say(_ line: String) {
        FileHandle.standardError.write(Data("infinistore: \(line)\n".utf8))
    }

    /// This binary's own path, which local memory nodes are started from.
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
