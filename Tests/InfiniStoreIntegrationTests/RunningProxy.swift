import Foundation
import ProcessTestSupport
import Testing

/// The real `infinistore serve` binary with real memory-node processes, on free loopback ports.
final class RunningProxy {
    let process: Process
    let port: Int
    private let errorOutput: Pipe

    /// The binary built beside this test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("infinistore")
    }

    init(_ arguments: [String] = []) throws {
        process = Process()
        process.executableURL = Self.executable
        process.arguments = ["serve", "--port", "0", "--node-port", "0"] + arguments
        errorOutput = Pipe()
        process.standardError = errorOutput
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        port = try Self.readPort(from: errorOutput.fileHandleForReading)
    }

    /// Waits for `serving Redis on HOST:PORT;` on the proxy's standard error.
    private static func readPort(from handle: FileHandle) throws -> Int {
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let data = handle.availableData
            guard !data.isEmpty else { break }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: "serving Redis on "),
                let end = text[range.upperBound...].firstIndex(of: ";"),
                let colon = text[range.upperBound..<end].lastIndex(of: ":"),
                let port = Int(text[text.index(after: colon)..<end])
            {
                return port
            }
        }
        throw ProxyFailedToStart(output: text)
    }

    /// The memory-node processes this proxy started.
    var nodeProcessIDs: [Int32] {
        let output = (try? run("/usr/bin/pgrep", ["-P", String(process.processIdentifier)])) ?? ""
        return output.split(separator: "\n").compactMap { Int32($0) }
    }

    func stop(signal: Int32 = SIGINT) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }

    deinit { stop(signal: SIGKILL) }
}

struct ProxyFailedToStart: Error, CustomStringConvertible {
    let output: String
    var description: String { "infinistore serve did not start: \(output)" }
}

/// Runs a program and returns its standard output.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> String {
    String(decoding: try runProcess(executable, arguments, input: input).output, as: UTF8.self)
}

@discardableResult
func redisCLI(_ port: Int, _ arguments: [String], input: Data? = nil) throws -> String {
    try run("/usr/bin/redis-cli", ["-p", String(port)] + arguments, input: input)
}

/// Polls `condition` for up to `seconds`.
func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

func isAlive(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
}
