public import Foundation
import Synchronization

/// Runs `executable` to completion and returns its exit status and standard output.
///
/// Input comes from a temporary file rather than a pipe, so a program that exits early cannot
/// leave the test blocked writing to it.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false
) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    if mergingStandardError { process.standardError = output }
    var inputFile: URL?
    defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
    if let input {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-input-\(UUID())")
        try input.write(to: file)
        inputFile = file
        process.standardInput = try FileHandle(forReadingFrom: file)
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

/// ``runProcess(_:_:input:mergingStandardError:)`` on a thread of its own. Waiting for a child on
/// a thread of Swift's cooperative pool would starve an in-process server under test, which
/// needs those threads to answer; Dispatch's global queues are no better, since Foundation parks
/// long-lived work of its own there and on two cores they have only two threads.
public func runProcessOffThePool(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false
) async throws -> (status: Int32, output: Data) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(
                with: Result {
                    try runProcess(executable, arguments, input: input, mergingStandardError: mergingStandardError)
                }
            )
        }.start()
    }
}

/// The redis-py scripts the tests drive the proxy with.
public let redisPyScripts = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("InfiniProxyTests/Python")

/// Starts `executable` in the background, with `environment` added to this process's own and
/// standard output and error written to `logFile`. Stop it with ``stopProcess(_:)``.
///
/// A child inherits the signal mask of the thread that spawns it, and Swift's and Dispatch's
/// worker threads block every signal; a child spawned there could not be stopped with SIGTERM.
/// So the child is spawned from a new thread that blocks none.
public func startProcess(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    logFile: URL
) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
    let log = try FileHandle(forWritingTo: logFile)
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = log
    process.standardError = log
    let outcome = SpawnOutcome()
    let thread = Thread {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        outcome.finish(Result { try process.run() })
    }
    thread.start()
    try outcome.wait()
    return process
}

/// The result of spawning on another thread, handed back once.
private final class SpawnOutcome: Sendable {
    private let result = Mutex<Result<Void, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func finish(_ result: Result<Void, any Error>) {
        self.result.withLock { $0 = result }
        self.done.signal()
    }

    func wait() throws {
        self.done.wait()
        try self.result.withLock { $0 }?.get()
    }
}

/// Stops `process` and waits for it to exit: SIGTERM, then SIGKILL if it is still running after
/// `grace`. Runs on a thread of its own so the wait holds none of Swift's or Dispatch's shared
/// threads.
public func stopProcess(_ process: Process, grace: Duration = .seconds(5)) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread {
            if process.isRunning { process.terminate() }
            let deadline = ContinuousClock.now + grace
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            while process.isRunning { usleep(10_000) }
            continuation.resume()
        }.start()
    }
}
