import NIOCore
import NIOPosix
import Testing

@testable import LambdaRuntimeAPI

/// Runs `body` with a fresh server on an ephemeral loopback port and a client pointed at it,
/// and tears both down afterwards whether or not `body` throws.
func withRuntime(
    server serverConfiguration: LocalRuntimeAPIServer.Configuration = .init(),
    client clientConfiguration: RuntimeAPIClient.Configuration = .init(),
    _ body: (LocalRuntimeAPIServer, RuntimeAPIClient) async throws -> Void
) async throws {
    let server = try await LocalRuntimeAPIServer.start(configuration: serverConfiguration)
    let client = try RuntimeAPIClient(endpoint: server.endpoint, configuration: clientConfiguration)
    do {
        try await body(server, client)
    } catch {
        await client.close()
        await server.shutdown()
        throw error
    }
    await client.close()
    await server.shutdown()
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// Asserts that `body` throws a `RuntimeAPIError` with `code`, and returns it.
@discardableResult
func expectRuntimeError<T>(
    _ code: RuntimeAPIError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> RuntimeAPIError? {
    do {
        _ = try await body()
        Issue.record("expected RuntimeAPIError.\(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as RuntimeAPIError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RuntimeAPIError.\(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A thread-safe flag for observing whether a concurrent task has finished.
actor Flag {
    private(set) var isSet = false

    func set() {
        self.isSet = true
    }
}

/// A parsed HTTP/1.1 response read off a raw socket.
struct RawResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }
}

/// A plain TCP connection for sending hand-written (or malformed) HTTP and reading responses.
struct RawHTTPConnection {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffered: [UInt8] = []

    fileprivate init(
        iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.iterator = iterator
        self.outbound = outbound
    }

    func send(_ text: String) async throws {
        try await self.send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next complete response, or `nil` when the peer closed before one arrived.
    mutating func readResponse() async throws -> RawResponse? {
        while true {
            if let response = Self.parse(&self.buffered) { return response }
            guard let chunk = try await self.iterator.next() else { return nil }
            self.buffered.append(contentsOf: chunk.readableBytesView)
        }
    }

    /// The next complete response, or `nil` when the peer closed or reset the connection
    /// first. A server that closes with unread input makes the kernel send a reset, which may
    /// overtake a response it had already written.
    mutating func readResponseOrReset() async -> RawResponse? {
        do {
            return try await self.readResponse()
        } catch {
            return nil
        }
    }

    /// Reads until the peer closes; `true` if it did so without sending anything more.
    mutating func closedByPeer() async throws -> Bool {
        while let chunk = try await self.iterator.next() {
            self.buffered.append(contentsOf: chunk.readableBytesView)
        }
        return self.buffered.isEmpty
    }

    private static func parse(_ bytes: inout [UInt8]) -> RawResponse? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let headText = String(decoding: bytes[..<headEnd], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces())
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        let bodyStart = headEnd + 4
        guard bytes.count >= bodyStart + length else { return nil }
        let body = Array(bytes[bodyStart..<(bodyStart + length)])
        bytes.removeFirst(bodyStart + length)
        return RawResponse(status: status, headers: headers, body: body)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// Opens a raw connection to `port` on loopback, runs `body` with it and closes it.
func withRawConnection<T: Sendable>(
    port: Int,
    _ body: (inout RawHTTPConnection) async throws -> T
) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var connection = RawHTTPConnection(iterator: inbound.makeAsyncIterator(), outbound: outbound)
        return try await body(&connection)
    }
}

/// A fake Runtime API that answers the n-th request it receives (over any connection) with
/// the n-th canned reply and records every request, for testing the client's wire format
/// and its handling of hostile responses.
final class ScriptedRuntimeAPI: Sendable {
    enum Reply: Sendable {
        /// Sends these bytes and keeps the connection open.
        case send([UInt8])
        /// Sends these bytes, then closes the connection.
        case sendThenClose([UInt8])
        /// Closes the connection without answering.
        case close
    }

    final class Script {
        var replies: [Reply]
        var requests: [[UInt8]] = []
        var connections: [any Channel] = []

        init(replies: [Reply]) {
            self.replies = replies
        }
    }

    let port: Int
    private let serverChannel: any Channel
    private let eventLoop: any EventLoop
    private let script: NIOLoopBound<Script>

    private init(port: Int, serverChannel: any Channel, eventLoop: any EventLoop, script: NIOLoopBound<Script>) {
        self.port = port
        self.serverChannel = serverChannel
        self.eventLoop = eventLoop
        self.script = script
    }

    var endpoint: String { "127.0.0.1:\(self.port)" }

    static func start(_ replies: [Reply]) async throws -> ScriptedRuntimeAPI {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let script = try await eventLoop.submit {
            NIOLoopBound(Script(replies: replies), eventLoop: eventLoop)
        }.get()
        let serverChannel = try await ServerBootstrap(group: eventLoop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    script.value.connections.append(channel)
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(script: script.value))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ScriptedRuntimeAPI(
            port: serverChannel.localAddress!.port!,
            serverChannel: serverChannel,
            eventLoop: eventLoop,
            script: script
        )
    }

    /// The raw requests received so far, head and body.
    func requests() async throws -> [String] {
        let script = self.script
        return try await self.eventLoop.submit {
            script.value.requests.map { String(decoding: $0, as: UTF8.self) }
        }.get()
    }

    func connectionCount() async throws -> Int {
        let script = self.script
        return try await self.eventLoop.submit { script.value.connections.count }.get()
    }

    func stop() async {
        try? await self.serverChannel.close()
        let script = self.script
        let connections = (try? await self.eventLoop.submit { script.value.connections }.get()) ?? []
        for connection in connections {
            try? await connection.close()
        }
    }

    /// Runs `body` against a fresh scripted server and stops it afterwards.
    static func with(
        _ replies: [Reply],
        _ body: (ScriptedRuntimeAPI) async throws -> Void
    ) async throws {
        let server = try await ScriptedRuntimeAPI.start(replies)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

/// Splits the byte stream into requests (head plus Content-Length body) and answers each
/// with the script's next reply.
private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let script: ScriptedRuntimeAPI.Script
    private var buffered: [UInt8] = []

    init(script: ScriptedRuntimeAPI.Script) {
        self.script = script
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.buffered.append(contentsOf: Self.unwrapInboundIn(data).readableBytesView)
        while let request = self.nextRequest() {
            self.script.requests.append(request)
            guard !self.script.replies.isEmpty else {
                context.close(promise: nil)
                return
            }
            switch self.script.replies.removeFirst() {
            case .send(let bytes):
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            case .sendThenClose(let bytes):
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
                context.close(promise: nil)
                return
            case .close:
                context.close(promise: nil)
                return
            }
        }
    }

    private func nextRequest() -> [UInt8]? {
        let separator: [UInt8] = [13, 10, 13, 10]
        let bytes = self.buffered
        guard let headEnd = bytes.indices.dropLast(3).first(where: { bytes[$0..<($0 + 4)].elementsEqual(separator) })
        else { return nil }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self).lowercased()
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).drop { $0 == " " }) ?? 0
        }
        let total = headEnd + 4 + length
        guard bytes.count >= total else { return nil }
        self.buffered.removeFirst(total)
        return Array(bytes[..<total])
    }
}

/// An HTTP/1.1 response as bytes, for scripting the fake server.
func httpResponse(
    status: String = "200 OK",
    headers: [(String, String)] = [],
    body: [UInt8] = [],
    contentLength: Int? = nil
) -> [UInt8] {
    var text = "HTTP/1.1 \(status)\r\n"
    for (name, value) in headers {
        text += "\(name): \(value)\r\n"
    }
    text += "Content-Length: \(contentLength ?? body.count)\r\n\r\n"
    return Array(text.utf8) + body
}
