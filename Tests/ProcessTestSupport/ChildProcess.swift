public import Foundation

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

/// ``runProcess(_:_:input:mergingStandardError:)`` on a Dispatch thread. Waiting for a child on
/// a thread of Swift's cooperative pool would starve an in-process server under test, which
/// needs those threads to answer.
public func runProcessOffThePool(
    _ executable: String,
    _ arguments: [String],
    input: Data? = nil,
    mergingStandardError: Bool = false
) async throws -> (status: Int32, output: Data) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(
                with: Result {
                    try runProcess(executable, arguments, input: input, mergingStandardError: mergingStandardError)
                }
            )
        }
    }
}

/// The redis-py scripts the tests drive the proxy with.
public let redisPyScripts = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("InfiniProxyTests/Python")
