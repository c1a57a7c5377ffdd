import Foundation
import ProcessTestSupport
import Testing

/// Runs the real `redis-cli` and returns its standard output.
@discardableResult
func redisCLI(_ port: Int, _ arguments: [String], input: Data? = nil) async throws -> String {
    try await run("/usr/bin/redis-cli", ["-p", String(port)] + arguments, input: input)
}

/// Runs `executable` and returns its standard output.
func run(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> String {
    String(decoding: try await runProcessOffThePool(executable, arguments, input: input).output, as: UTF8.self)
}

/// Runs `Python/<script>` with `python3` and the given arguments, and records a test issue with
/// the script's output unless it exits 0. The scripts assert with plain `assert` statements.
func runPythonScript(
    _ script: String,
    _ arguments: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let path = redisPyScripts.appendingPathComponent(script).path
    // No __pycache__ in the source tree.
    let result = try await runProcessOffThePool(
        "/usr/bin/env", ["PYTHONDONTWRITEBYTECODE=1", "python3", path] + arguments, mergingStandardError: true)
    #expect(
        result.status == 0,
        "\(script) \(arguments.joined(separator: " ")) failed:\n\(String(decoding: result.output, as: UTF8.self))",
        sourceLocation: sourceLocation
    )
}
