import InfiniProxy
import Testing

/// The proxy driven by redis-py, the client most applications use, in RESP2 and RESP3.
@Suite(.serialized) struct RedisPyTests {
    @Test(arguments: [2, 3]) func stringCommands(protocolVersion: Int) async throws {
        // Small shards so a 300 kB value spans several stripes and GETRANGE crosses them.
        try await withProxy(maximumShardLength: 4096) { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("strings.py", [String(port), String(protocolVersion)])
        }
    }

    @Test(arguments: [2, 3]) func expiry(protocolVersion: Int) async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("expiry.py", [String(port), String(protocolVersion)])
        }
    }

    @Test(arguments: [2, 3]) func keyspaceInfoAndConfig(protocolVersion: Int) async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("keyspace.py", [String(port), String(protocolVersion)])
        }
    }

    @Test(arguments: [2, 3]) func authentication(protocolVersion: Int) async throws {
        let configuration = ProxyServer.Configuration(port: 0, password: "s3cret pass")
        try await withProxy(configuration: configuration) { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("auth.py", [String(port), String(protocolVersion), "s3cret pass"])
        }
    }

    @Test(arguments: [2, 3]) func clientAndBufferLimits(protocolVersion: Int) async throws {
        let configuration = ProxyServer.Configuration(
            port: 0, maximumBulkLength: 1000, maximumClients: 5, queryBufferLimit: 4096)
        try await withProxy(configuration: configuration) { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("limits.py", [String(port), String(protocolVersion), "5", "4096", "1000"])
        }
    }

    @Test(arguments: [2, 3]) func largeValuesShareTheClientMemory(protocolVersion: Int) async throws {
        let clientMemory = 1 << 20
        let configuration = ProxyServer.Configuration(port: 0, clientMemory: clientMemory)
        try await withProxy(configuration: configuration) { (port: Int, _: [InProcessChunkNode]) async throws in
            try await runPythonScript("client_memory.py", [String(port), String(protocolVersion), String(clientMemory)])
        }
    }
}
