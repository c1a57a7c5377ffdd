import Foundation
import ProcessSpawning
import Testing

@Suite(.timeLimit(.minutes(1))) struct ChildProcessTests {
    /// Everything `child` writes to its standard output pipe, up to end of file.
    private func readToEnd(_ child: ChildProcess) -> String {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            switch child.standardOutput!.read(timeout: .milliseconds(100)) {
            case .bytes(let chunk): bytes += chunk
            case .endOfFile: return String(decoding: bytes, as: UTF8.self)
            case .timedOut: continue
            }
        }
        Issue.record("no end of file within 20 s")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func outputAndExitStatus() async throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "printf 'hello\\0world'; exit 3"], standardOutput: .pipe)
        #expect(readToEnd(child) == "hello\0world")
        #expect(await child.terminated() == .exited(3))
        #expect(child.termination == .exited(3))
        #expect(!child.isRunning)
    }

    @Test func standardErrorFollowsStandardOutput() throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2"], standardOutput: .pipe, standardError: .standardOutput)
        #expect(readToEnd(child) == "out\nerr\n")
        #expect(child.waitUntilTerminated() == .exited(0))
    }

    @Test func inputFromAFileAndOutputToAFile() throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("child-input-\(UUID())")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-output-\(UUID())")
        defer { [input, output].forEach { try? FileManager.default.removeItem(at: $0) } }
        try Data("line one\nline two\n".utf8).write(to: input)
        try Data("before\n".utf8).write(to: output)
        let child = try ChildProcess(executable: "/bin/cat", arguments: [], standardInput: .file(input.path), standardOutput: .file(output.path))
        #expect(child.waitUntilTerminated() == .exited(0))
        #expect(try String(contentsOf: output, encoding: .utf8) == "before\nline one\nline two\n", "output files are appended to")
    }

    @Test func aSignalEndsTheChildAndIsReported() async throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(child.waitUntilTerminated(timeout: .milliseconds(100)) == nil, "still running")
        #expect(await child.terminated(timeout: .milliseconds(100)) == nil)
        #expect(child.isRunning)
        child.send(SIGTERM)
        #expect(await child.terminated() == .signalled(SIGTERM))
        child.send(SIGKILL)
    }

    @Test func stopEscalatesToSIGKILLAfterTheGrace() async throws {
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; sleep 30"], standardOutput: .pipe)
        #expect(child.standardOutput!.read(timeout: .seconds(10)) == .bytes(Array("ready\n".utf8)))
        #expect(await child.stop(grace: .milliseconds(300)) == .signalled(SIGKILL))
    }

    @Test func theChildInheritsNoOtherDescriptor() throws {
        // A pipe made without close-on-exec, as code outside our control may make one.
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let pipeIdentity = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(ends[1])")
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        defer { child.send(SIGKILL) }
        let childDescriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.id)/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.id)/fd/\($0)")
        }
        #expect(!childDescriptors.contains(pipeIdentity))
        close(ends[1])
        var ready = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 10_000) == 1, "end of file at once: the child holds no copy of the write end")
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0)
    }

    @Test func ignoredSignalsAreResetForTheChild() throws {
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "kill -PIPE $$; exit 0"])
        #expect(child.waitUntilTerminated(timeout: .seconds(20)) == .signalled(SIGPIPE))
    }

    @Test func aNewProcessGroupIsTheChildsOwn() throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"], newProcessGroup: true)
        defer { child.send(SIGKILL) }
        #expect(getpgid(child.id) == child.id)
        let sibling = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        defer { sibling.send(SIGKILL) }
        #expect(getpgid(sibling.id) == getpgrp())
    }

    @Test func environmentIsExactlyTheOneGiven() throws {
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: [], environment: ["ONLY": "this one"], standardOutput: .pipe)
        #expect(readToEnd(child) == "ONLY=this one\n")
    }

    @Test func aMissingExecutableIsAClearError() throws {
        let error = try #require(throws: SpawnError.self) {
            try ChildProcess(executable: "/nonexistent/program", arguments: [])
        }
        #expect(error.description == "cannot start /nonexistent/program: spawn failed: No such file or directory")
    }

    @Test func manyChildrenAtOnceAllEndAndAreNoticed() async throws {
        try await withThrowingTaskGroup(of: ChildProcess.Termination.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit \(index % 7)"], standardOutput: .pipe)
                    return await child.terminated()
                }
            }
            var ended = 0
            for try await termination in group {
                if case .exited = termination { ended += 1 }
            }
            #expect(ended == 40)
        }
    }
}
