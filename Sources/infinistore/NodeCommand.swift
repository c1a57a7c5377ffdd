import ArgumentParser
import CProcessControl
import Foundation
import InfiniCOS
import InfiniNode
import UnixSignals

/// `infinistore node`: the memory node, a Lambda custom runtime.
///
/// With `INFINISTORE_COS` set (a `file:PATH` or `s3://BUCKET` location) it writes every chunk
/// through to that COS. On SIGTERM it finishes the writes it has accepted, then exits.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a memory node (a Lambda custom runtime; needs AWS_LAMBDA_RUNTIME_API)."
    )

    /// How long a terminated node may take to finish its COS writes.
    static let drainTimeout = Duration.seconds(10)

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // Started by a local invoker: told to stop when it dies, even if it is killed with SIGKILL.
        if let parent = environment["INFINISTORE_PARENT_PID"].flatMap(Int32.init) {
            _ = CProcessControl_setParentDeathSignal(SIGTERM)
            guard getppid() == parent else { throw ExitCode.failure }
        }
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let persister: ChunkPersister?
        do {
            persister = try await Self.persister(for: environment["INFINISTORE_COS"])
        } catch {
            Self.say("\(error)")
            throw ExitCode.failure
        }
        // The node stops when told to, or when its Runtime API goes away (the proxy died);
        // either way, chunks already accepted are written to the COS, and recorded in the
        // node's lineage, before the process exits.
        // The runtime loop may be parked in a long poll, so it is not waited for.
        let (endings, end) = AsyncStream.makeStream(of: (any Error)?.self)
        let runtime = MemoryNodeRuntime(persister: persister, log: { Self.say($0) })
        Task {
            do {
                try await runtime.run()
                end.yield(nil)
            } catch {
                end.yield(error)
            }
        }
        Task {
            for await _ in signals { break }
            end.yield(nil)
        }
        var first = endings.makeAsyncIterator()
        let failure = await first.next() ?? nil
        if persister != nil {
            let (drained, done) = AsyncStream.makeStream(of: Void.self)
            Task {
                await runtime.drain()
                done.yield()
            }
            Task {
                try? await Task.sleep(for: Self.drainTimeout)
                done.yield()
            }
            var waiting = drained.makeAsyncIterator()
            await waiting.next()
        }
        if let failure {
            Self.say("\(failure)")
            throw ExitCode.failure
        }
    }

    /// Writes chunks through to the COS at `location`; nil without one.
    static func persister(for location: String?) async throws -> ChunkPersister? {
        guard let location else { return nil }
        return ChunkPersister(storage: try await StorageLocation(parsing: location).open())
    }

    static func say(_ line: String) {
        FileHandle.standardError.write(Data("infinistore node: \(line)\n".utf8))
    }
}
