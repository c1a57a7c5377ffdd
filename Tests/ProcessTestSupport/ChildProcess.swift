public import Foundation
public import ProcessSpawning

/// Runs `executable` to completion and returns its exit status (128 + the signal for one
/// killed by a signal, as shells report it) and standard output. A child still running after
/// `timeout` is killed and ``ProcessTimedOut`` thrown, so a test fails instead of hanging.
///
/// Input comes from a temporary file rather than a pipe, so a program that exits early cannot
/// leave the test blocked writing to it. Blocks the calling thread: from async code use
/// ``runProcessOffThePool(_:_:input:mergingStandardError:timeout:)``.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false,
    timeout: Duration = .seconds(120)
) throws -> (status: Int32, output: Data) {
    var inputFile: URL?
    defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
    if let input {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-input-\(UUID())")
        try input.write(to: file)
        inputFile = file
    }
    let child = try ChildProcess(
        executable: executable,
        arguments: arguments,
        standardInput: inputFile.map { .file($0.path) } ?? .nullDevice,
        standardOutput: .pipe,
        standardError: mergingStandardError ? .standardOutput : .inherit
    )
    let deadline = ContinuousClock.now + timeout
    var output = Data()
    reading: while let pipe = child.standardOutput {
        guard ContinuousClock.now < deadline else {
            child.send(SIGKILL)
            throw ProcessTimedOut(command: ([executable] + arguments).joined(separator: " "), timeout: timeout, output: output)
        }
        switch pipe.read(timeout: .milliseconds(200)) {
        case .bytes(let bytes):
            output.append(contentsOf: bytes)
        case .endOfFile:
            break reading
        case .timedOut:
            // A process the child left behind may hold the pipe open; the child's exit ends it.
            if !child.isRunning, case .timedOut = pipe.read(timeout: .milliseconds(200)) { break reading }
        }
    }
    guard let termination = child.waitUntilTerminated(timeout: max(deadline - .now, .seconds(1))) else {
        child.send(SIGKILL)
        throw ProcessTimedOut(command: ([executable] + arguments).joined(separator: " "), timeout: timeout, output: output)
    }
    switch termination {
    case .exited(let status): return (status, output)
    case .signalled(let signal): return (128 + signal, output)
    }
}

/// A child process ran past its time limit and was killed.
public struct ProcessTimedOut: Error, CustomStringConvertible {
    public var command: String
    public var timeout: Duration
    public var output: Data

    public var description: String {
        "\(command) was still running after \(timeout) and was killed; its output: \(String(decoding: output.suffix(2000), as: UTF8.self))"
    }
}

/// ``runProcess(_:_:input:mergingStandardError:timeout:)`` on a thread of its own. Waiting for a
/// child on a thread of Swift's cooperative pool would starve an in-process server under test,
/// which needs those threads to answer; Dispatch's global queues are no better, since on two
/// cores they have only two threads.
public func runProcessOffThePool(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false,
    timeout: Duration = .seconds(120)
) async throws -> (status: Int32, output: Data) {
    try await withCheckedThrowingContinuation { continuation in
        do {
            try startThread {
                continuation.resume(
                    with: Result {
                        try runProcess(executable, arguments, input: input, mergingStandardError: mergingStandardError, timeout: timeout)
                    }
                )
            }
        } catch {
            continuation.resume(throwing: error)
        }
    }
}

/// The redis-py scripts the tests drive the proxy with.
public let redisPyScripts = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("InfiniProxyTests/Python")

/// Starts `executable` in the background, with `environment` added to this process's own and
/// standard output and error appended to `logFile`. Stop it with ``ChildProcess/stop(grace:)``.
public func startProcess(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    logFile: URL
) throws -> ChildProcess {
    try ChildProcess(
        executable: executable,
        arguments: arguments,
        environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
        standardOutput: .file(logFile.path),
        standardError: .standardOutput
    )
}
