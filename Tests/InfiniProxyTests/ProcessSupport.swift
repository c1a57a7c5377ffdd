import Dispatch
import Foundation
import Testing

/// Runs the real `redis-cli` and returns its standard output.
@discardableResult
func redisCLI(_ port: Int, _ arguments: [String], input: Data? = nil) async throws -> String {
    try await run("/usr/bin/redis-cli", ["-p", String(port)] + arguments, input: input)
}

/// Runs `executable` and returns its standard output.
func run(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> String {
    String(decoding: try await runProcess(executable, arguments, input: input).output, as: UTF8.self)
}

/// Runs `Python/<script>` with `python3` and the given arguments, and records a test issue with
/// the script's output unless it exits 0. The scripts assert with plain `assert` statements.
func runPythonScript(
    _ script: String,
    _ arguments: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Python")
    let path = directory.appendingPathComponent(script).path
    // No __pycache__ in the source tree.
    let result = try await runProcess(
        "/usr/bin/env", ["PYTHONDONTWRITEBYTECODE=1", "python3", path] + arguments, mergingStandardError: true)
    #expect(
        result.status == 0,
        "\(script) \(arguments.joined(separator: " ")) failed:\n\(String(decoding: result.output, as: UTF8.self))",
        sourceLocation: sourceLocation
    )
}

/// Runs a process to completion on a Dispatch thread. Waiting for it on a thread of Swift's
/// cooperative pool would starve the proxy under test, which needs those threads to answer.
func runProcess(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false
) async throws -> (status: Int32, output: Data) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            if mergingStandardError { process.standardError = output }
            let inputPipe = Pipe()
            process.standardInput = inputPipe
            do {
                try process.run()
                if let input { inputPipe.fileHandleForWriting.write(input) }
                try inputPipe.fileHandleForWriting.close()
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, data))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
