import Foundation
import InfiniProxy
import ProcessTestSupport
import Testing

/// The new commands through the real `redis-cli`, with Redis's exact replies and error texts.
@Suite(.serialized) struct RedisCLICommandTests {
    @Test func expiryRepliesAndErrors() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            // A TTL read a second after it was set may have ticked down once on a loaded machine.
            let cases: [([String], Set<String>)] = [
                (["SET", "k", "v", "EX", "0"], ["ERR invalid expire time in 'set' command\n\n"]),
                (["SET", "k", "v", "EX", "abc"], ["ERR value is not an integer or out of range\n\n"]),
                (["SET", "k", "v", "EX", "1", "PX", "1"], ["ERR syntax error\n\n"]),
                (["SET", "k", "v", "KEEPTTL", "EX", "1"], ["ERR syntax error\n\n"]),
                (["SET", "k", "v", "PX", "9223372036854775807"], ["ERR invalid expire time in 'set' command\n\n"]),
                (["GETEX", "k", "EX", "0"], ["ERR invalid expire time in 'getex' command\n\n"]),
                (["GETEX", "k", "PERSIST", "EX", "1"], ["ERR syntax error\n\n"]),
                (["EXPIRE", "k", "10", "NX", "XX"], ["ERR NX and XX, GT or LT options at the same time are not compatible\n\n"]),
                (["EXPIRE", "k", "10", "GT", "LT"], ["ERR GT and LT options at the same time are not compatible\n\n"]),
                (["EXPIRE", "k", "abc", "FOO"], ["ERR Unsupported option FOO\n\n"]),
                (["EXPIRE", "k", "9223372036854775807"], ["ERR invalid expire time in 'expire' command\n\n"]),
                (["SET", "k", "v", "EX", "100"], ["OK\n"]),
                (["TTL", "k"], ["100\n", "99\n"]),
                (["EXPIRE", "k", "50", "GT"], ["0\n"]),
                (["EXPIRE", "k", "50", "LT"], ["1\n"]),
                (["TTL", "k"], ["50\n", "49\n"]),
                (["SET", "k", "w", "KEEPTTL", "GET"], ["v\n"]),
                (["TTL", "k"], ["50\n", "49\n"]),
                (["GETEX", "k", "PERSIST"], ["w\n"]),
                (["TTL", "k"], ["-1\n"]),
                (["TTL", "missing"], ["-2\n"]),
                (["SETNX", "k", "x"], ["0\n"]),
                (["GETDEL", "k"], ["w\n"]),
                (["EXISTS", "k"], ["0\n"]),
                (["SET", "short", "v", "PX", "200"], ["OK\n"]),
            ]
            for (command, replies) in cases {
                let reply = try await redisCLI(port, command)
                #expect(replies.contains(reply), "\(command): \(reply)")
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await redisCLI(port, ["GET", "short"]) == "\n")
        }
    }

    @Test func rangesAppendKeysAndScan() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            #expect(try await redisCLI(port, ["SET", "k", "Hello World"]) == "OK\n")
            #expect(try await redisCLI(port, ["GETRANGE", "k", "-5", "-1"]) == "World\n")
            #expect(try await redisCLI(port, ["GETRANGE", "k", "0", "-100"]) == "H\n")
            #expect(try await redisCLI(port, ["GETRANGE", "k", "-1", "-3"]) == "\n")
            #expect(try await redisCLI(port, ["GETRANGE", "k", "a", "1"]) == "ERR value is not an integer or out of range\n\n")
            #expect(try await redisCLI(port, ["APPEND", "k", "!"]) == "12\n")
            #expect(try await redisCLI(port, ["STRLEN", "k"]) == "12\n")
            #expect(try await redisCLI(port, ["MSET", "a", "1", "b", "2", "c*", "3"]) == "OK\n")
            #expect(try await redisCLI(port, ["KEYS", "*"]) == "k\na\nb\nc*\n")
            #expect(try await redisCLI(port, ["KEYS", "[ab]"]) == "a\nb\n")
            #expect(try await redisCLI(port, ["KEYS", "c\\*"]) == "c*\n")
            #expect(try await redisCLI(port, ["SCAN", "0", "COUNT", "2"]) == "3\nk\na\n")
            #expect(try await redisCLI(port, ["SCAN", "3", "COUNT", "2"]) == "0\nb\nc*\n")
            #expect(try await redisCLI(port, ["SCAN", "abc"]) == "ERR invalid cursor\n\n")
            #expect(try await redisCLI(port, ["SCAN", "0", "COUNT", "0"]) == "ERR syntax error\n\n")
            #expect(try await redisCLI(port, ["SCAN", "0", "TYPE", "hash"]) == "0\n\n")
            let scanned = try await run("/usr/bin/redis-cli", ["-p", String(port), "--scan", "--pattern", "[abk]"])
            #expect(Set(scanned.split(separator: "\n")) == ["a", "b", "k"])
        }
    }

    @Test func infoConfigAndCommand() async throws {
        try await withProxy { (port: Int, _: [InProcessChunkNode]) async throws in
            #expect(try await redisCLI(port, ["SET", "k", "v", "EX", "100"]) == "OK\n")
            // redis-cli prints INFO's text as it came, CRLFs included and no newline added.
            #expect(try await redisCLI(port, ["INFO", "keyspace"]) == "# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n")
            let info = try await redisCLI(port, ["INFO"])
            for header in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace", "# InfiniStore"] {
                #expect(info.contains(header + "\r\n"), "\(header)")
            }
            #expect(info.hasPrefix("# Server\r\nredis_version:7.2.0\r\n"))
            #expect(info.contains("infinistore_geometry:10+2\r\ninfinistore_data_shards:10\r\n"))
            #expect(info.contains("infinistore_nodes:14\r\n"))
            #expect(try await redisCLI(port, ["INFO", "nosuchsection"]) == "")
            #expect(try await redisCLI(port, ["CONFIG", "GET", "save"]) == "save\n\n")
            #expect(try await redisCLI(port, ["CONFIG", "GET", "databases"]) == "databases\n1\n")
            #expect(try await redisCLI(port, ["CONFIG", "SET", "x", "1"]) == "ERR Unknown option or number of arguments for CONFIG SET - 'x'\n\n")
            #expect(
                try await redisCLI(port, ["CONFIG", "SET", "maxclients", "0"])
                    == "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\n\n"
            )
            #expect(try await redisCLI(port, ["CONFIG", "SET", "databases", "1"]) == "OK\n")
            #expect(
                try await redisCLI(port, ["CONFIG", "SET", "databases", "16"])
                    == "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\n\n"
            )
            #expect(try await redisCLI(port, ["CONFIG", "GET"]) == "ERR wrong number of arguments for 'config|get' command\n\n")
            #expect(try await redisCLI(port, ["COMMAND", "DOCS", "get"]) == "get\nsummary\nReturns the string value of a key.\nsince\n1.0.0\ngroup\nstring\n")
            #expect(try await redisCLI(port, ["COMMAND", "INFO", "get"]) == "get\n2\nreadonly\nfast\n1\n1\n1\n@string\n\n\n\n")
            #expect(try await redisCLI(port, ["COMMAND", "NOPE"]) == "ERR unknown subcommand 'NOPE'. Try COMMAND HELP.\n\n")
        }
    }

    @Test func authenticationAndHello() async throws {
        let configuration = ProxyServer.Configuration(port: 0, password: "hunter2")
        try await withProxy(configuration: configuration) { (port: Int, _: [InProcessChunkNode]) async throws in
            let noAuth = "NOAUTH Authentication required.\n\n"
            let wrongPass = "WRONGPASS invalid username-password pair or user is disabled.\n\n"
            #expect(try await redisCLI(port, ["GET", "k"]) == noAuth)
            #expect(try await redisCLI(port, ["PING"]) == noAuth)
            #expect(try await redisCLI(port, ["NOPE"]) == "ERR unknown command 'NOPE', with args beginning with: \n\n")
            #expect(try await redisCLI(port, ["AUTH", "wrong"]) == wrongPass)
            #expect(try await redisCLI(port, ["AUTH", "bob", "hunter2"]) == wrongPass)
            #expect(try await redisCLI(port, ["AUTH", "a", "b", "c"]) == "ERR syntax error\n\n")
            #expect(try await redisCLI(port, ["HELLO", "3", "AUTH", "default", "wrong"]) == wrongPass)
            #expect(try await redisCLI(port, ["HELLO", "3"]).hasPrefix("NOAUTH HELLO must be called with the client already authenticated"))
            #expect(try await redisCLI(port, ["QUIT"]) == "OK\n")
            let session = "AUTH hunter2\nSET k v\nGET k\nAUTH default hunter2\n"
            #expect(try await redisCLI(port, [], input: Data(session.utf8)) == "OK\nOK\nv\nOK\n")
            let hello = try await redisCLI(port, ["HELLO", "3", "AUTH", "default", "hunter2", "SETNAME", "me"])
            // redis-cli prints a RESP3 map one "key value" pair per line, as it does for Redis.
            let fields = hello.split(separator: "\n").map(String.init)
            #expect(fields.count == 7, "\(hello)")
            #expect(Array(fields.prefix(3)) == ["server redis", "version 7.2.0", "proto 3"])
            #expect(fields.dropFirst(3).first?.hasPrefix("id ") == true)
            #expect(Array(fields.suffix(3)) == ["mode standalone", "role master", "modules "])
            #expect(try await redisCLI(port, ["-a", "hunter2", "--no-auth-warning", "HELLO", "4"]) == "NOPROTO unsupported protocol version\n\n")
            #expect(
                try await redisCLI(port, ["-a", "hunter2", "--no-auth-warning", "HELLO", "x"])
                    == "ERR Protocol version is not an integer or out of range\n\n"
            )
            let cleared = try await redisCLI(port, ["-a", "hunter2", "--no-auth-warning", "CONFIG", "SET", "requirepass", ""])
            #expect(cleared == "OK\n")
            #expect(try await redisCLI(port, ["GET", "k"]) == "v\n")
            #expect(
                try await redisCLI(port, ["AUTH", "x"])
                    == "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\n\n"
            )
        }
    }

    @Test func maxclientsRefusesWithRedisError() async throws {
        let configuration = ProxyServer.Configuration(port: 0, maximumClients: 1)
        try await withProxy(configuration: configuration) { (port: Int, _: [InProcessChunkNode]) async throws in
            // One redis-cli holds the only slot while a second one is turned away.
            async let holder = runProcessOffThePool("/bin/sh", ["-c", "(echo PING; sleep 1) | /usr/bin/redis-cli -p \(port)"])
            try await Task.sleep(for: .milliseconds(400))
            let refused = try await redisCLI(port, ["PING"])
            #expect(refused.contains("max number of clients reached"))
            #expect(String(decoding: try await holder.output, as: UTF8.self) == "PONG\n")
        }
    }
}
