import ArgumentParser
import CProcessControl
import Foundation
import InfiniNode

/// `infinistore node`: the memory node, a Lambda custom runtime.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a memory node (a Lambda custom runtime; needs AWS_LAMBDA_RUNTIME_API)."
    )

    func run() async throws {
        // Started by a local invoker: die with it, even if it is killed with SIGKILL.
        if let parent = ProcessInfo.processInfo.environment["INFINISTORE_PARENT_PID"].flatMap(Int32.init) {
            _ = CProcessControl_setParentDeathSignal(SIGKILL)
            guard getppid() == parent else { throw ExitCode.failure }
        }
        do {
            try await MemoryNodeRuntime().run()
        } catch {
            FileHandle.standardError.write(Data("infinistore node: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
