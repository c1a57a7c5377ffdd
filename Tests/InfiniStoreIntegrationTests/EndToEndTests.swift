import Foundation
import ProcessTestSupport
import InfiniCodingReference
import Testing

/// The real binary, real node processes, real clients.
@Suite(.serialized, .timeLimit(.minutes(5))) struct EndToEndTests {
    @Test func setGetDeleteAcrossNodeProcesses() throws {
        let proxy = try RunningProxy(["--ec", "4+2", "--nodes", "8"])
        #expect(try redisCLI(proxy.port, ["SET", "k", "v"]) == "OK\n")
        #expect(try redisCLI(proxy.port, ["GET", "k"]) == "v\n")
        let binary = Data([0, 0, 1, 13, 10, 0])
        #expect(try redisCLI(proxy.port, ["-x", "SET", "binary"], input: binary) == "OK\n")
        #expect(try redisCLI(proxy.port, ["--no-raw", "GET", "binary"]) == "\"\\x00\\x00\\x01\\r\\n\\x00\"\n")
        #expect(try redisCLI(proxy.port, ["SET", "empty", ""]) == "OK\n")
        #expect(try redisCLI(proxy.port, ["STRLEN", "empty"]) == "0\n")
        #expect(try redisCLI(proxy.port, ["DEL", "k", "binary", "nope"]) == "2\n")
        #expect(try redisCLI(proxy.port, ["GET", "k"]) == "\n")
        #expect(!proxy.nodeProcessIDs.isEmpty, "values must live in node processes")
        proxy.stop()
    }

    @Test func a100MiBValuePipedWithRedisCLI() throws {
        let proxy = try RunningProxy()
        let value = Data(SampleData.random(100 << 20, seed: 100))
        #expect(try redisCLI(proxy.port, ["-x", "SET", "large"], input: value) == "OK\n")
        #expect(try redisCLI(proxy.port, ["STRLEN", "large"]) == "\(100 << 20)\n")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-e2e-\(proxy.port)")
        defer { try? FileManager.default.removeItem(at: path) }
        try run("/bin/sh", ["-c", "/usr/bin/redis-cli -p \(proxy.port) --raw GET large > \(path.path)"])
        let read = try Data(contentsOf: path)
        #expect(isValueLine(read, value))
        proxy.stop()
    }

    @Test func redisBenchmarkRunsCleanAndEveryValueReadsBack() throws {
        let proxy = try RunningProxy()
        // MSET writes ten keys per request; 2,000 of them keep the debug-build run short.
        let small =
            try run("/usr/bin/redis-benchmark", ["-p", String(proxy.port), "-t", "set,get", "-n", "20000", "-d", "1024", "-q"])
            + run("/usr/bin/redis-benchmark", ["-p", String(proxy.port), "-t", "mset", "-n", "2000", "-d", "1024", "-q"])
        #expect(small.contains("SET:") && small.contains("GET:") && small.contains("MSET"))
        #expect(!small.lowercased().contains("error"))
        // redis-benchmark's values are random; what it last wrote must read back whole and stable.
        #expect(try redisCLI(proxy.port, ["STRLEN", "key:__rand_int__"]) == "1024\n")
        #expect(try redisCLI(proxy.port, ["GET", "key:__rand_int__"]) == redisCLI(proxy.port, ["GET", "key:__rand_int__"]))
        let large = try run(
            "/usr/bin/redis-benchmark",
            ["-p", String(proxy.port), "-t", "set,get", "-n", "200", "-d", "1048576", "-q"]
        )
        #expect(large.contains("SET:") && large.contains("GET:"))
        #expect(!large.lowercased().contains("error"))
        #expect(try redisCLI(proxy.port, ["STRLEN", "key:__rand_int__"]) == "1048576\n")
        let value = try redisCLI(proxy.port, ["--raw", "GET", "key:__rand_int__"])
        #expect(value.utf8.count == 1_048_576 + 1)
        #expect(try redisCLI(proxy.port, ["--raw", "GET", "key:__rand_int__"]) == value)
        proxy.stop()
    }

    @Test func readsSurviveParityManyKilledNodes() throws {
        let proxy = try RunningProxy(["--ec", "4+2", "--nodes", "6"])
        let value = Data(SampleData.random(3 << 20, seed: 3))
        #expect(try redisCLI(proxy.port, ["-x", "SET", "resilient"], input: value) == "OK\n")
        let nodes = proxy.nodeProcessIDs
        #expect(nodes.count == 6)
        for pid in nodes.prefix(2) { kill(pid, SIGKILL) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("infinistore-kill-\(proxy.port)")
        defer { try? FileManager.default.removeItem(at: path) }
        try run("/bin/sh", ["-c", "/usr/bin/redis-cli -p \(proxy.port) --raw GET resilient > \(path.path)"])
        let read = try Data(contentsOf: path)
        #expect(isValueLine(read, value))

        // More than p lost: the restarted nodes read their chunks back from the COS.
        #expect(eventually { proxy.info("infinistore_unpersisted_chunks") == "0" })
        for pid in proxy.nodeProcessIDs { kill(pid, SIGKILL) }
        try run("/bin/sh", ["-c", "/usr/bin/redis-cli -p \(proxy.port) --raw GET resilient > \(path.path)"])
        let again = try Data(contentsOf: path)
        #expect(isValueLine(again, value))
        #expect(try redisCLI(proxy.port, ["PING"]) == "PONG\n")
        proxy.stop()
    }

    @Test func readsGoOnWhileANodeIsStopped() throws {
        // A node timeout far above the hedge delay: a read that waited for the stopped node
        // would take a minute.
        let proxy = try RunningProxy(["--read-cache", "0", "--ec", "4+2", "--nodes", "6", "--node-timeout", "60"])
        let coded = Data(SampleData.random(100_000, seed: 11))
        #expect(try redisCLI(proxy.port, ["-x", "SET", "coded"], input: coded) == "OK\n")
        #expect(try redisCLI(proxy.port, ["SET", "small", "replicated"]) == "OK\n")
        let nodes = proxy.nodeProcessIDs
        #expect(nodes.count == 6)
        for pid in nodes {
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            let started = ContinuousClock.now
            let small = try redisCLI(proxy.port, ["GET", "small"])
            let read = try runProcess("/usr/bin/redis-cli", ["-p", String(proxy.port), "--raw", "GET", "coded"]).output
            #expect(small == "replicated\n")
            #expect(isValueLine(read, coded))
            #expect(ContinuousClock.now - started < .seconds(20), "a read waited for the stopped node \(pid)")
        }
        proxy.stop()
    }

    @Test func strangersOnTheNodePortAreDroppedUnansweredAndLogged() throws {
        let proxy = try RunningProxy(["--ec", "2+1", "--nodes", "3"])
        let log = proxy.log
        let start = try #require(log.range(of: "memory nodes dial 127.0.0.1:"))
        let nodePort = try #require(Int(log[start.upperBound...].prefix { $0.isNumber }))
        let forged = "*4\\r\\n$10\\r\\nNODE-HELLO\\r\\n$1\\r\\n0\\r\\n$7\\r\\nsession\\r\\n$15\\r\\nforged-token-42\\r\\n"
        #expect(try rawExchange(port: nodePort, forged) == "", "a forged hello got an answer")
        #expect(try rawExchange(port: nodePort, "GET / HTTP/1.1\\r\\n\\r\\n") == "")
        #expect(eventually { proxy.log.contains("wrong session or token for memory node 0") })
        #expect(eventually { proxy.log.contains(": not a hello") })
        #expect(proxy.log.contains("dropped a node connection from 127.0.0.1:"))
        #expect(!proxy.log.contains("forged-token-42"), "a token reached the log")
        #expect(try redisCLI(proxy.port, ["SET", "k", "v"]) == "OK\n", "the real nodes still work")
        proxy.stop()
    }

    @Test func aTakenPortEndsTheProxyWithOneLineSayingSo() throws {
        let first = try RunningProxy(["--ec", "2+1", "--nodes", "3"])
        let log = first.log
        let start = try #require(log.range(of: "memory nodes dial 127.0.0.1:"))
        let nodePort = try #require(Int(log[start.upperBound...].prefix { $0.isNumber }))
        let clientPortTaken = #expect(throws: ProxyFailedToStart.self) { try RunningProxy(["--ec", "2+1", "--nodes", "3"], port: first.port) }
        #expect(clientPortTaken?.output.contains("cannot listen on 127.0.0.1:\(first.port) for the client port: address already in use") == true)
        let nodePortTaken = #expect(throws: ProxyFailedToStart.self) {
            try RunningProxy(["--ec", "2+1", "--nodes", "3", "--node-port", String(nodePort)])
        }
        #expect(nodePortTaken?.output.contains("exited") == true, "the proxy did not end: \(nodePortTaken?.output ?? "")")
        #expect(nodePortTaken?.output.contains("cannot listen on 127.0.0.1:\(nodePort) for the node port: address already in use") == true)
        #expect(try redisCLI(first.port, ["PING"]) == "PONG\n")
        first.stop()
    }

    @Test func aSecondProxyOnAnotherProxysCOSRefusesToStartAndTheFirstRestartsOnIt() throws {
        let cos = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cos) }
        let arguments = ["--ec", "2+1", "--nodes", "3", "--cos", "file:\(cos.path)"]
        let dataDirectory = RunningProxy.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        var first = try RunningProxy(arguments, dataDirectory: dataDirectory)
        #expect(try redisCLI(first.port, ["SET", "k", "the first proxy's"]) == "OK\n")

        let second = #expect(throws: ProxyFailedToStart.self) { try RunningProxy(arguments) }
        #expect(second?.output.contains("exited") == true, "the second proxy did not end: \(second?.output ?? "")")
        #expect(second?.output.contains("error: the COS holds the data of another proxy (started on ") == true)
        #expect(try redisCLI(first.port, ["GET", "k"]) == "the first proxy's\n")

        // The first proxy, killed and started again on its data directory, is still the owner,
        // also after its identity file was edited by hand and gained a line break.
        first.stop(signal: SIGKILL)
        let identityFile = dataDirectory.appendingPathComponent("proxy-id")
        try (String(contentsOf: identityFile, encoding: .utf8) + "\n").write(to: identityFile, atomically: true, encoding: .utf8)
        first = try RunningProxy(arguments, dataDirectory: dataDirectory)
        #expect(try redisCLI(first.port, ["GET", "k"]) == "the first proxy's\n")
        first.stop()
    }

    @Test func nodeProcessesDieWithTheProxy() throws {
        for signal in [SIGINT, SIGKILL] {
            let proxy = try RunningProxy(["--ec", "2+1", "--nodes", "3"])
            #expect(try redisCLI(proxy.port, ["SET", "k", String(repeating: "v", count: 10_000)]) == "OK\n")
            let nodes = proxy.nodeProcessIDs
            #expect(nodes.count == 3)
            proxy.stop(signal: signal)
            #expect(eventually { nodes.allSatisfy { !isAlive($0) } }, "nodes outlived the proxy after signal \(signal)")
        }
    }

    @Test func malformedInputGetsAnErrorAndTheServerGoesOn() throws {
        let proxy = try RunningProxy(["--ec", "2+1", "--nodes", "3"])
        let replies = try rawExchange(port: proxy.port, "*1\\r\\n$999999999999\\r\\n")
        let garbage = try rawExchange(port: proxy.port, "*2\\r\\n+oops\\r\\n")
        #expect(replies == "-ERR Protocol error: invalid bulk length\r\n")
        #expect(garbage == "-ERR Protocol error: expected '$', got '+'\r\n")
        #expect(try redisCLI(proxy.port, ["PING"]) == "PONG\n")
        proxy.stop()
    }
}

/// Sends raw bytes (a printf format) over TCP and returns everything the server answers until it
/// closes the connection (or 5 s pass).
func rawExchange(port: Int, _ printfFormat: String) throws -> String {
    try run(
        "/bin/bash",
        ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf '\(printfFormat)' >&3; timeout 5 cat <&3 || true"]
    )
}

/// The redis-py scripts of the proxy's tests, run against the real binary.
@Suite(.serialized, .timeLimit(.minutes(5))) struct RedisPyEndToEndTests {
    @Test(arguments: ["strings.py", "expiry.py", "keyspace.py"], [2, 3])
    func redisPy(script: String, protocolVersion: Int) throws {
        // The defaults (10+2 over 14 nodes), which keyspace.py checks in INFO.
        let proxy = try RunningProxy()
        let path = redisPyScripts.appendingPathComponent(script).path
        let result = try runProcess(
            "/usr/bin/env",
            ["PYTHONDONTWRITEBYTECODE=1", "python3", path, String(proxy.port), String(protocolVersion)],
            mergingStandardError: true
        )
        #expect(
            result.status == 0,
            "\(script) with protocol \(protocolVersion): \(String(decoding: result.output, as: UTF8.self))"
        )
        proxy.stop()
    }
}

/// Idle node processes are reclaimed like idle Lambda sandboxes, and come back on demand.
@Suite(.timeLimit(.minutes(5))) struct ReclaimTests {
    @Test func idleNodesAreReclaimedAndComeBack() throws {
        let proxy = try RunningProxy(["--ec", "2+1", "--nodes", "3", "--reclaim-after", "0.5"])
        #expect(try redisCLI(proxy.port, ["SET", "k", "v"]) == "OK\n")
        let first = proxy.nodeProcessIDs
        #expect(!first.isEmpty)
        #expect(eventually { proxy.nodeProcessIDs.isEmpty }, "idle nodes were not reclaimed")
        #expect(try redisCLI(proxy.port, ["SET", "k2", "v2"]) == "OK\n")
        #expect(try redisCLI(proxy.port, ["GET", "k2"]) == "v2\n")
        #expect(Set(proxy.nodeProcessIDs).isDisjoint(with: first))
        proxy.stop()
    }

    @Test func warmUpInvocationsKeepIdleNodes() throws {
        let proxy = try RunningProxy(["--ec", "2+1", "--nodes", "3", "--reclaim-after", "1", "--warmup", "0.25", "--read-cache", "0"])
        #expect(try redisCLI(proxy.port, ["SET", "k", "v"]) == "OK\n")
        // The value went to two nodes; the first warm-up brings up the third.
        #expect(eventually { proxy.nodeProcessIDs.count == 3 })
        let first = Set(proxy.nodeProcessIDs)
        // Three times the reclaim limit with no request at all.
        Thread.sleep(forTimeInterval: 3)
        #expect(Set(proxy.nodeProcessIDs) == first, "a warmed node was reclaimed")
        #expect(try redisCLI(proxy.port, ["GET", "k"]) == "v\n")
        proxy.stop()
    }
}
