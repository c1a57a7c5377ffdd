public import NIOCore
public import NIOHTTP1
public import NIOPosix
import NIOSSL

/// A complete response whose body stayed within the configured limit.
public struct AWSResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
}

/// Signed requests to one AWS endpoint over a bounded pool of keep-alive HTTP/1.1
/// connections (TLS for `https`), retried per ``RetryPolicy``.
///
/// Call ``shutdown()`` when done; dropping the last copy also closes idle connections.
public struct AWSClient: Sendable {
    /// Connection, timeout, size and retry settings.
    public struct Configuration: Sendable {
        /// Connections open to the endpoint at once, at most.
        public var maxConnections: Int
        public var connectTimeout: Duration
        /// Time for a whole exchange, from sending the request to the end of the response.
        public var requestTimeout: Duration
        /// Largest response body accepted; a larger `Content-Length` is refused before reading.
        public var maxResponseBodySize: Int
        public var maxResponseHeaderSize: Int
        public var retry: RetryPolicy
        /// PEM certificates trusted besides the system's, for `https` endpoints with a private CA.
        public var additionalTrustRootsPEMFile: String?

        public init(
            maxConnections: Int = 16,
            connectTimeout: Duration = .seconds(10),
            requestTimeout: Duration = .seconds(120),
            maxResponseBodySize: Int = 1 << 30,
            maxResponseHeaderSize: Int = 64 * 1024,
            retry: RetryPolicy = RetryPolicy(),
            additionalTrustRootsPEMFile: String? = nil
        ) {
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.maxResponseBodySize = maxResponseBodySize
            self.maxResponseHeaderSize = maxResponseHeaderSize
            self.retry = retry
            self.additionalTrustRootsPEMFile = additionalTrustRootsPEMFile
        }
    }

    /// Whether the payload's SHA-256 is part of the signature.
    public enum PayloadSigning: Sendable {
        /// Hash the body (the default; the service checks the bytes it received).
        case signed
        /// Send ``SigV4Signer/unsignedPayload`` (S3 only; saves hashing large bodies).
        case unsigned
    }

    public let endpoint: AWSEndpoint
    public let signer: SigV4Signer
    public let configuration: Configuration
    private let pool: ConnectionPool

    /// - Throws: ``AWSError`` `.invalidArgument` when the TLS settings cannot be loaded.
    public init(
        endpoint: AWSEndpoint,
        signer: SigV4Signer,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(AWSError) {
        var tls: NIOSSLContext?
        if endpoint.isSecure {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            if let file = configuration.additionalTrustRootsPEMFile {
                tlsConfiguration.additionalTrustRoots = [.file(file)]
            }
            do {
                tls = try NIOSSLContext(configuration: tlsConfiguration)
            } catch {
                throw AWSError(.invalidArgument, "cannot set up TLS for \(endpoint): \(error)")
            }
        }
        self.endpoint = endpoint
        self.signer = signer
        self.configuration = configuration
        self.pool = ConnectionPool(
            endpoint: endpoint,
            maxConnections: configuration.maxConnections,
            limits: HTTPLimits(
                maxBodySize: configuration.maxResponseBodySize,
                maxHeaderSize: configuration.maxResponseHeaderSize,
                connectTimeout: TimeAmount(configuration.connectTimeout),
                requestTimeout: TimeAmount(configuration.requestTimeout)
            ),
            tls: tls,
            group: eventLoopGroup
        )
    }

    /// Signs and sends a request, retrying retryable failures, and returns the response,
    /// whatever its status. A 5xx still there after the last attempt is returned too, so the
    /// caller can read the service's error document.
    ///
    /// - Parameters:
    ///   - path: the path as sent, percent-encoded (see ``SigV4Signer/uriEncode(_:keepingSlashes:)``).
    ///   - query: unencoded parameters.
    /// - Throws: ``AWSError`` for transport failures (`.connectionFailed`, `.timedOut`,
    ///   `.responseTooLarge`, `.malformedResponse`), or `CancellationError`.
    public func send(
        _ method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer? = nil,
        payloadSigning: PayloadSigning = .signed
    ) async throws -> AWSResponse {
        let payloadHash = payloadSigning == .signed ? SigV4Signer.payloadHash(of: body) : SigV4Signer.unsignedPayload
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            var request = SigV4Request(method: method, path: path, query: query, headers: headers)
            request.headers.replaceOrAdd(name: "Host", value: self.endpoint.hostHeader)
            self.signer.sign(&request, payloadHash: payloadHash, at: .now())
            let failure: AWSError
            do {
                let response = try await self.exchange(
                    HTTPRequest(method: method, target: request.target, headers: request.headers, body: body)
                )
                guard response.status.code >= 500, attempt < self.configuration.retry.maxAttempts else {
                    return response
                }
                failure = AWSError(.refused, "status \(response.status.code)", status: Int(response.status.code))
            } catch let error as AWSError {
                failure = error
            }
            guard self.configuration.retry.shouldRetry(failure, afterAttempt: attempt) else { throw failure }
            try await Task.sleep(for: self.configuration.retry.delay(beforeRetry: attempt, using: &generator))
            attempt += 1
        }
    }

    /// Closes idle connections; later requests fail.
    public func shutdown() {
        self.pool.shutdown()
    }

    private func exchange(_ request: HTTPRequest) async throws -> AWSResponse {
        let connection = try await self.pool.lease()
        do {
            let (response, reusable) = try await connection.execute(request)
            self.pool.release(connection, reusable: reusable)
            return response
        } catch {
            self.pool.release(connection, reusable: false)
            throw error
        }
    }
}
