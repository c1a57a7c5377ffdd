import NIOCore
import RESP

/// How a register workload mixes its operations, and how it names and times them.
public struct RegisterWorkloadOptions: Sendable {
    /// The share of operations that are GETs.
    public var readFraction: Double
    /// The share of operations that are DELs; the rest are SETs.
    public var deleteFraction: Double
    /// How long a request may wait for its reply before it is recorded as unknown and its
    /// connection replaced.
    public var requestTimeout: Duration
    /// How long a client that lost its connection keeps trying to reconnect before the
    /// workload fails.
    public var reconnectTimeout: Duration
    /// Seeds each client's choice of keys and operations.
    public var seed: UInt64
    /// Starts every key name, so runs against one server do not see each other's keys; the
    /// default is random.
    public var keyPrefix: String

    public init(
        readFraction: Double = 0.5,
        deleteFraction: Double = 0,
        requestTimeout: Duration = .seconds(5),
        reconnectTimeout: Duration = .seconds(10),
        seed: UInt64 = .random(in: .min ... .max),
        keyPrefix: String = "register-\(UInt32.random(in: .min ... .max))-"
    ) {
        precondition(
            readFraction >= 0 && deleteFraction >= 0 && readFraction + deleteFraction <= 1,
            "fractions out of range"
        )
        self.readFraction = readFraction
        self.deleteFraction = deleteFraction
        self.requestTimeout = requestTimeout
        self.reconnectTimeout = reconnectTimeout
        self.seed = seed
        self.keyPrefix = keyPrefix
    }
}

/// Runs `clients` concurrent connections doing random SET and GET (and DEL, if the options
/// ask) on `keys` keys for `duration`, and returns the recorded history.
///
/// Every written value is unique (it starts with its client and sequence number, padded to
/// `valueSize` bytes), so each read names the write it saw. A request that gets no reply, or an
/// error reply, is recorded as unknown; a client whose request got no reply reconnects.
///
/// - Throws: ``TestRedisClientError`` when a client cannot connect at the start or cannot
///   reconnect within ``RegisterWorkloadOptions/reconnectTimeout``, or when the server answers
///   with a reply of the wrong type (a bug no history can explain).
public func runRegisterWorkload(
    clients: Int,
    keys: Int,
    duration: Duration,
    valueSize: Int = 16,
    host: String = "127.0.0.1",
    port: Int,
    options: RegisterWorkloadOptions = RegisterWorkloadOptions()
) async throws(TestRedisClientError) -> [Operation] {
    let deadline = ContinuousClock.now + duration
    return try await runRegisterWorkload(
        clients: clients, keys: keys, valueSize: valueSize, host: host, port: port, options: options
    ) { _ in ContinuousClock.now < deadline }
}

/// Like ``runRegisterWorkload(clients:keys:duration:valueSize:host:port:options:)``, but each
/// client issues `operations` operations.
public func runRegisterWorkload(
    clients: Int,
    keys: Int,
    operations: Int,
    valueSize: Int = 16,
    host: String = "127.0.0.1",
    port: Int,
    options: RegisterWorkloadOptions = RegisterWorkloadOptions()
) async throws(TestRedisClientError) -> [Operation] {
    try await runRegisterWorkload(
        clients: clients, keys: keys, valueSize: valueSize, host: host, port: port, options: options
    ) { issued in issued < operations }
}

private func runRegisterWorkload(
    clients: Int,
    keys keyCount: Int,
    valueSize: Int,
    host: String,
    port: Int,
    options: RegisterWorkloadOptions,
    continuing: @escaping @Sendable (_ issued: Int) -> Bool
) async throws(TestRedisClientError) -> [Operation] {
    precondition(clients > 0 && keyCount > 0, "a workload needs clients and keys")
    let keys = (0..<keyCount).map { BinaryString("\(options.keyPrefix)\($0)") }
    let recorder = HistoryRecorder()
    var connections: [TestRedisClient] = []
    for _ in 0..<clients {
        do {
            connections.append(
                try await TestRedisClient.connect(host: host, port: port, defaultTimeout: options.requestTimeout)
            )
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
    }
    let worker = RegisterWorker(
        keys: keys, valueSize: valueSize, host: host, port: port, options: options, recorder: recorder
    )
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (client, connection) in connections.enumerated() {
                group.addTask { try await worker.run(client: client, connection: connection, continuing: continuing) }
            }
            try await group.waitForAll()
        }
    } catch let error as TestRedisClientError {
        throw error
    } catch {
        preconditionFailure("workers throw only TestRedisClientError: \(error)")
    }
    return recorder.history()
}

/// What each client of a register workload does.
private struct RegisterWorker: Sendable {
    let keys: [BinaryString]
    let valueSize: Int
    let host: String
    let port: Int
    let options: RegisterWorkloadOptions
    let recorder: HistoryRecorder

    func run(
        client: Int,
        connection first: TestRedisClient,
        continuing: @Sendable (_ issued: Int) -> Bool
    ) async throws(TestRedisClientError) {
        var random = SplitMix64(seed: self.options.seed &+ UInt64(client) &* 0x9E37_79B9_7F4A_7C15)
        var connection: TestRedisClient? = first
        var issued = 0
        var disconnectedAt = ContinuousClock.now
        // A client that failed cancels the others.
        while continuing(issued) && !Task.isCancelled {
            guard let current = connection else {
                do {
                    connection = try await TestRedisClient.connect(
                        host: self.host, port: self.port, defaultTimeout: self.options.requestTimeout
                    )
                } catch {
                    if ContinuousClock.now - disconnectedAt > self.options.reconnectTimeout { throw error }
                    try? await Task.sleep(for: .milliseconds(10))
                }
                continue
            }
            let key = self.keys[Int.random(in: 0..<self.keys.count, using: &random)]
            let roll = Double.random(in: 0..<1, using: &random)
            let kind: Operation.Kind
            let command: [BinaryString]
            if roll < self.options.readFraction {
                kind = .read
                command = ["GET", key]
            } else if roll < self.options.readFraction + self.options.deleteFraction {
                kind = .delete
                command = ["DEL", key]
            } else {
                let value = self.value(client: client, sequence: issued)
                kind = .write(value)
                command = ["SET", key, value]
            }
            issued += 1
            let ticket = self.recorder.invoke(client: client, key: key, kind: kind)
            let reply: RESPValue
            do {
                reply = try await current.send(command)
            } catch {
                self.recorder.complete(ticket, .unknown)
                await current.close()
                connection = nil
                disconnectedAt = ContinuousClock.now
                continue
            }
            do {
                self.recorder.complete(ticket, try Self.outcome(of: reply, for: kind))
            } catch {
                self.recorder.complete(ticket, .unknown)
                await current.close()
                throw error
            }
        }
        await connection?.close()
    }

    /// A value no other operation of this run writes: client and sequence number, then padding.
    private func value(client: Int, sequence: Int) -> BinaryString {
        var bytes = Array("c\(client)-\(sequence)".utf8)
        if bytes.count < self.valueSize {
            bytes += repeatElement(UInt8(ascii: "."), count: self.valueSize - bytes.count)
        }
        return BinaryString(bytes)
    }

    /// What `reply` tells about an operation; error replies leave it unknown.
    private static func outcome(
        of reply: RESPValue,
        for kind: Operation.Kind
    ) throws(TestRedisClientError) -> Operation.Outcome {
        if reply.isError { return .unknown }
        switch (kind, reply) {
        case (.read, .bulkString(let bytes)):
            return .returned(BinaryString(buffer: bytes))
        case (.read, .null):
            return .returned(nil)
        case (.write, .simpleString(let text)) where String(buffer: text) == "OK":
            return .ok
        case (.delete, .integer(0...1)):
            return .ok
        default:
            throw TestRedisClientError(.unexpectedReply, "unexpected reply to \(kind.commandName): \(reply)")
        }
    }
}
