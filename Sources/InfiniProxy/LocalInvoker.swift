import Foundation
import LambdaRuntimeAPI
import ProcessSpawning

/// Runs memory nodes as child processes of the proxy, each behind its own loopback Lambda
/// Runtime API endpoint, so local mode runs exactly the node code that runs in AWS.
///
/// A node process is started on its node's first invocation and stays, idle between
/// invocations like a frozen sandbox, until it is reclaimed (killed) or the invoker shuts down;
/// a reclaimed node comes back empty on its next invocation.
public actor LocalInvoker: Invoker {
    public struct Configuration: Sendable {
        /// The `infinistore` binary; started as `<executable> node`.
        public var executable: String
        /// How long one invocation may run, as a Lambda function timeout.
        public var invocationTimeout: Duration
        /// Reclaim (kill) a node process idle this long, as the platform reclaims idle
        /// sandboxes; nil keeps idle nodes forever.
        public var reclaimAfterIdle: Duration?
        /// Extra environment for node processes (e.g. `INFINISTORE_COS`, the COS to write to).
        public var environment: [String: String]

        public init(
            executable: String,
            invocationTimeout: Duration = .seconds(900),
            reclaimAfterIdle: Duration? = nil,
            environment: [String: String] = [:]
        ) {
            self.executable = executable
            self.invocationTimeout = invocationTimeout
            self.reclaimAfterIdle = reclaimAfterIdle
            self.environment = environment
        }
    }

    private struct Instance {
        var process: ChildProcess
        var runtimeAPI: LocalRuntimeAPIServer
        var runningInvocations = 0
        var idleSince = ContinuousClock.now
    }

    public let configuration: Configuration
    private var instances: [Int: Instance] = [:]
    private var isShutDown = false

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func invoke(nodeID: Int, event: [UInt8]) async throws -> [UInt8] {
        let runtimeAPI = try await instance(for: nodeID)
        instances[nodeID]?.runningInvocations += 1
        defer {
            instances[nodeID]?.runningInvocations -= 1
            instances[nodeID]?.idleSince = .now
        }
        switch try await runtimeAPI.invoke(payload: event, timeout: configuration.invocationTimeout) {
        case .response(let bytes):
            return bytes
        case .functionError(let type, let message):
            throw InvocationFailed(node: nodeID, type: type, message: message)
        }
    }

    /// The process id of each running node process.
    public var processIDs: [Int: Int32] {
        instances.mapValues(\.process.id)
    }

    /// Kills node `nodeID`'s process, as the platform reclaiming its sandbox would.
    public func reclaim(_ nodeID: Int) {
        instances[nodeID]?.process.send(SIGKILL)
    }

    /// Reclaims idle node processes per ``Configuration/reclaimAfterIdle`` until cancelled.
    public func run() async {
        guard let limit = configuration.reclaimAfterIdle else { return }
        let interval = min(limit / 4, .seconds(1))
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let now = ContinuousClock.now
            for (node, instance) in instances where instance.runningInvocations == 0 && now - instance.idleSince >= limit {
                reclaim(node)
            }
        }
    }

    /// Stops every node process and endpoint; later invocations fail. Nodes get SIGTERM and a
    /// few seconds to finish their COS writes, then SIGKILL.
    public func shutdown(grace: Duration = .seconds(10)) async {
        isShutDown = true
        let all = instances
        instances.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for instance in all.values {
                group.addTask {
                    await instance.process.stop(grace: grace)
                    await instance.runtimeAPI.shutdown()
                }
            }
        }
    }

    private func instance(for nodeID: Int) async throws -> LocalRuntimeAPIServer {
        if let instance = instances[nodeID], instance.process.isRunning { return instance.runtimeAPI }
        guard !isShutDown else { throw InvocationFailed(node: nodeID, type: "ShutDown", message: "the invoker is shut down") }
        let runtimeAPI = try await LocalRuntimeAPIServer.start()
        var environment = ProcessInfo.processInfo.environment.merging(configuration.environment) { $1 }
        environment["AWS_LAMBDA_RUNTIME_API"] = runtimeAPI.endpoint
        environment["INFINISTORE_PARENT_PID"] = String(getpid())
        let process: ChildProcess
        do {
            // A process group of its own: Ctrl-C reaches the proxy, which stops its nodes in order.
            process = try ChildProcess(executable: configuration.executable, arguments: ["node"], environment: environment, newProcessGroup: true)
        } catch {
            await runtimeAPI.shutdown()
            throw InvocationFailed(node: nodeID, type: "SpawnFailed", message: error.description)
        }
        instances[nodeID] = Instance(process: process, runtimeAPI: runtimeAPI)
        Task { [weak self] in
            _ = await process.terminated()
            await self?.processExited(nodeID, generation: ObjectIdentifier(process))
        }
        return runtimeAPI
    }

    private func processExited(_ nodeID: Int, generation: ObjectIdentifier) async {
        guard let instance = instances[nodeID], ObjectIdentifier(instance.process) == generation else { return }
        instances[nodeID] = nil
        await instance.runtimeAPI.failOutstanding(reason: "memory node \(nodeID)'s process exited")
        await instance.runtimeAPI.shutdown()
    }
}
