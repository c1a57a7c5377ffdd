import Foundation
import ProcessSpawning
import ProcessTestSupport
import Synchronization
import Testing

/// The real `infinistore serve` binary with real memory-node processes, on free loopback ports,
/// with its data directory (and so its file COS) in a temporary directory of its own unless the
/// test gives one, e.g. to restart a proxy on the same data.
final class RunningProxy {
    let process: ChildProcess
    let port: Int
    let dataDirectory: URL
    private let ownsDataDirectory: Bool
    private let output = CapturedOutput()

    /// The binary built beside this test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("infinistore")
    }

    init(_ arguments: [String] = [], dataDirectory: URL? = nil, port requestedPort: Int = 0) throws {
        ownsDataDirectory = dataDirectory == nil
        self.dataDirectory = dataDirectory ?? Self.makeTemporaryDirectory()
        process = try ChildProcess(
            executable: Self.executable.path,
            arguments: ["serve", "--port", String(requestedPort), "--node-port", "0", "--data-dir", self.dataDirectory.path] + arguments,
            standardOutput: .nullDevice,
            standardError: .pipe
        )
        // Read the proxy's (and its nodes') standard error to the end, so a chatty process never
        // blocks on a full pipe and a failing test can show what the proxy said.
        let (output, pipe) = (self.output, process.standardError!)
        try startThread { output.collect(from: pipe) }
        port = try Self.waitForPort(in: output, of: process)
    }

    /// The last lines the proxy and its nodes wrote to standard error.
    var log: String { output.text }

    /// A new empty directory under the system's temporary directory.
    static func makeTemporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Waits for `serving Redis on HOST:PORT;` on the proxy's standard error.
    private static func waitForPort(in output: CapturedOutput, of process: ChildProcess) throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = output.text
            if let range = text.range(of: "serving Redis on "),
                let end = text[range.upperBound...].firstIndex(of: ";"),
                let colon = text[range.upperBound..<end].lastIndex(of: ":"),
                let port = Int(text[text.index(after: colon)..<end])
            {
                return port
            }
            if let ended = process.termination { throw ProxyFailedToStart(output: "it \(ended): \(text)") }
            usleep(20_000)
        }
        process.send(SIGKILL)
        throw ProxyFailedToStart(output: "no port within 60 s: \(output.text)")
    }

    /// The memory-node processes this proxy started.
    var nodeProcessIDs: [Int32] { Self.nodeProcessIDs(ofProxy: process.id) }

    /// The live memory-node processes the proxy with process id `pid` started, read from
    /// `/proc` without starting a process, so async tests can poll it.
    static func nodeProcessIDs(ofProxy pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let end = stat.range(of: ") ", options: .backwards)
            else { return false }
            // After the command name: state, then the parent's process id.
            let fields = stat[end.upperBound...].split(separator: " ")
            return fields.count > 1 && fields[0] != "Z" && Int32(fields[1]) == pid
        }
    }

    /// One field of `INFO`, e.g. `infinistore_unpersisted_chunks`.
    func info(_ field: String) -> String? {
        let text = (try? redisCLI(port, ["INFO", "everything"])) ?? ""
        return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }.map { String($0.dropFirst(field.count + 1)) }
    }

    /// Sends `signal` and waits for the proxy to exit; SIGKILL if it is still running a minute on.
    func stop(signal: Int32 = SIGINT) {
        process.send(signal)
        if process.waitUntilTerminated(timeout: .seconds(60)) == nil {
            Issue.record("the proxy ignored signal \(signal) for a minute: \(log)")
            process.send(SIGKILL)
            process.waitUntilTerminated()
        }
    }

    deinit {
        stop(signal: SIGKILL)
        output.stop()
        if ownsDataDirectory { try? FileManager.default.removeItem(at: dataDirectory) }
    }
}

/// The tail of what a child wrote to a pipe, collected on a thread of its own.
final class CapturedOutput: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var stopped = false
    }

    private static let limit = 256 << 10
    private let state = Mutex(State())

    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// Reads `pipe` until every writer has closed it or ``stop()`` is called.
    func collect(from pipe: PipeReader) {
        while true {
            switch pipe.read(timeout: .milliseconds(200)) {
            case .bytes(let bytes):
                state.withLock { state in
                    state.bytes += bytes
                    if state.bytes.count > Self.limit { state.bytes.removeFirst(state.bytes.count - Self.limit) }
                }
            case .endOfFile:
                return
            case .timedOut:
                if state.withLock(\.stopped) { return }
            }
        }
    }

    func stop() {
        state.withLock { $0.stopped = true }
    }
}

struct ProxyFailedToStart: Error, CustomStringConvertible {
    let output: String
    var description: String { "infinistore serve did not start: \(output)" }
}

/// Runs a program and returns its standard output; one still running after five minutes is
/// killed and the test fails.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> String {
    String(decoding: try runProcess(executable, arguments, input: input, timeout: .seconds(300)).output, as: UTF8.self)
}

@discardableResult
/// Whether `read` is `value` and the newline redis-cli ends it with. A function rather than `==`
/// inside `#expect`, which on a mismatch diffs the two byte by byte: minutes for megabytes.
func isValueLine(_ read: Data, _ value: Data) -> Bool {
    read == value + Data("\n".utf8)
}

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

/// Polls `condition` for up to `seconds` without blocking a thread of the cooperative pool.
func eventuallyAsync(seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

func isAlive(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
}
