import Crypto
public import NIOCore
import NIOHTTP1
public import NIOPosix

/// One page of a ListObjectsV2 answer.
public struct S3ObjectList: Sendable, Hashable {
    /// An object in the listing.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var size: Int
    }

    public var objects: [Entry]
    /// Pass to the next ``S3Client/listObjects(bucket:prefix:continuationToken:maxKeys:)`` call;
    /// nil on the last page.
    public var nextContinuationToken: String?
}

/// The S3 calls InfiniStore needs, with path-style addressing
/// (`http://host:port/bucket/key`), over an ``AWSClient``.
///
/// Every failure is an ``AWSError`` whose message names the call and quotes S3's error code
/// and message, e.g. `S3 PUT bucket/key refused: SignatureDoesNotMatch: The request signature
/// we calculated does not match ...`.
public struct S3Client: Sendable {
    /// Where and as whom to connect.
    public struct Configuration: Sendable {
        public var credentials: AWSCredentials
        /// Defaults to `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`.
        public var region: String?
        /// `http[s]://host[:port]`; defaults to `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`,
        /// then `https://s3.REGION.amazonaws.com`.
        public var endpoint: String?
        public var http: AWSClient.Configuration

        public init(
            credentials: AWSCredentials,
            region: String? = nil,
            endpoint: String? = nil,
            http: AWSClient.Configuration = AWSClient.Configuration()
        ) {
            self.credentials = credentials
            self.region = region
            self.endpoint = endpoint
            self.http = http
        }
    }

    /// The largest page ListObjectsV2 returns.
    public static let maxKeysPerPage = 1000

    public let region: String
    private let client: AWSClient

    public var endpoint: AWSEndpoint { self.client.endpoint }

    /// - Throws: ``AWSError`` `.invalidArgument` for a malformed endpoint or TLS setting.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(AWSError) {
        let region = configuration.region ?? Environment.firstValue("AWS_REGION", "AWS_DEFAULT_REGION") ?? "us-east-1"
        let url =
            configuration.endpoint ?? Environment.firstValue("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
            ?? "https://s3.\(region).amazonaws.com"
        self.region = region
        self.client = try AWSClient(
            endpoint: AWSEndpoint(url: url),
            signer: SigV4Signer(credentials: configuration.credentials, region: region, service: "s3"),
            configuration: configuration.http,
            eventLoopGroup: eventLoopGroup
        )
    }

    /// Stores `body` under `key`, replacing any object there.
    public func putObject(bucket: String, key: String, body: ByteBuffer) async throws {
        let label = "PUT \(bucket)/\(key)"
        let response = try await self.send(label, .PUT, path: try Self.path(bucket, key), body: body)
        try Self.expectSuccess(response, label)
    }

    /// Stores `body` under `key` only if no object is there (`If-None-Match: *`): of two
    /// creates of one key, one succeeds. Returns false when an object was there.
    public func createObject(bucket: String, key: String, body: ByteBuffer) async throws -> Bool {
        let label = "PUT \(bucket)/\(key) (if absent)"
        var headers = HTTPHeaders()
        headers.add(name: "If-None-Match", value: "*")
        let response = try await self.send(label, .PUT, path: try Self.path(bucket, key), headers: headers, body: body)
        if response.status == .preconditionFailed { return false }
        try Self.expectSuccess(response, label)
        return true
    }

    /// The object's bytes, those in `range` (inclusive offsets, `Range: bytes=a-b`) when given,
    /// or nil when there is no such object. A range past the end yields no bytes, and one
    /// running over the end is cut at it.
    public func getObject(bucket: String, key: String, range: ClosedRange<Int>? = nil) async throws -> ByteBuffer? {
        let label = "GET \(bucket)/\(key)"
        var headers = HTTPHeaders()
        if let range {
            headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)")
        }
        let response = try await self.send(label, .GET, path: try Self.path(bucket, key), headers: headers)
        switch response.status.code {
        case 200:
            // A server that ignores Range sends the whole object: cut the range out here.
            guard let range else { return response.body }
            let body = response.body
            let start = min(range.lowerBound, body.readableBytes)
            let end = min(range.upperBound + 1, body.readableBytes)
            return body.getSlice(at: body.readerIndex + start, length: end - start) ?? ByteBuffer()
        case 206:
            return response.body
        case 416 where range != nil:
            return ByteBuffer()
        case 404 where Self.errorCode(response) != "NoSuchBucket":
            return nil
        default:
            throw Self.error(response, label)
        }
    }

    /// The object's length, or nil when there is no such object.
    public func headObject(bucket: String, key: String) async throws -> Int? {
        let label = "HEAD \(bucket)/\(key)"
        let response = try await self.send(label, .HEAD, path: try Self.path(bucket, key))
        switch response.status.code {
        case 200:
            guard let length = response.headers.first(name: "Content-Length").flatMap({ Int($0) }), length >= 0 else {
                throw AWSError(.malformedResponse, "S3 \(label): answer has no valid Content-Length")
            }
            return length
        case 404:
            // A HEAD answer has no body to tell a missing key from a missing bucket.
            return nil
        default:
            throw Self.error(response, label)
        }
    }

    /// Removes the object; removing a missing one succeeds, as in S3 itself.
    public func deleteObject(bucket: String, key: String) async throws {
        let label = "DELETE \(bucket)/\(key)"
        let response = try await self.send(label, .DELETE, path: try Self.path(bucket, key))
        try Self.expectSuccess(response, label)
    }

    /// The most keys one ``deleteObjects(bucket:keys:)`` request takes, S3's limit.
    public static let maxKeysPerDelete = 1000

    /// Removes up to ``maxKeysPerDelete`` objects in one request (S3's DeleteObjects); missing
    /// ones count as removed, as with ``deleteObject(bucket:key:)``.
    ///
    /// - Throws: ``AWSError`` when the request is refused, or for the first key S3 reports it
    ///   could not delete, with S3's code and message.
    public func deleteObjects(bucket: String, keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        let label = "DELETE \(bucket) (\(keys.count) keys)"
        guard keys.count <= Self.maxKeysPerDelete else {
            throw AWSError(.invalidArgument, "S3 \(label): at most \(Self.maxKeysPerDelete) keys per request")
        }
        for key in keys { _ = try Self.path(bucket, key) }
        var document = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        for key in keys { document += "<Object><Key>\(XMLTree.escaped(key))</Key></Object>" }
        document += "</Delete>"
        let body = ByteBuffer(string: document)
        var headers = HTTPHeaders()
        // S3 refuses a DeleteObjects request without a digest of its body.
        headers.add(name: "Content-MD5", value: Base64.encode(Insecure.MD5.hash(data: Array(document.utf8))))
        let response = try await self.send(label, .POST, path: try Self.path(bucket, nil), query: [(name: "delete", value: "")], headers: headers, body: body)
        try Self.expectSuccess(response, label)
        try Self.checkDeleteResult(response.body, label)
    }

    /// One page of the keys that start with `prefix`, in ascending byte order.
    public func listObjects(
        bucket: String,
        prefix: String,
        continuationToken: String? = nil,
        maxKeys: Int = S3Client.maxKeysPerPage
    ) async throws -> S3ObjectList {
        let label = "LIST \(bucket)/\(prefix)*"
        var query = [(name: "list-type", value: "2"), (name: "max-keys", value: String(maxKeys))]
        if !prefix.isEmpty { query.append((name: "prefix", value: prefix)) }
        if let continuationToken { query.append((name: "continuation-token", value: continuationToken)) }
        let response = try await self.send(label, .GET, path: try Self.path(bucket, nil), query: query)
        try Self.expectSuccess(response, label)
        return try Self.parseListing(response.body, label)
    }

    /// Creates the bucket; one that exists and is yours already counts as created.
    public func createBucket(_ bucket: String) async throws {
        let label = "CREATE BUCKET \(bucket)"
        var body: ByteBuffer?
        // us-east-1 is the default location and must not be named.
        if self.region != "us-east-1" {
            body = ByteBuffer(
                string: "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + "<LocationConstraint>\(self.region)</LocationConstraint></CreateBucketConfiguration>"
            )
        }
        let response = try await self.send(label, .PUT, path: try Self.path(bucket, nil), body: body)
        if response.status.code == 409, Self.errorCode(response) == "BucketAlreadyOwnedByYou" { return }
        try Self.expectSuccess(response, label)
    }

    /// Closes idle connections; later calls fail.
    public func shutdown() {
        self.client.shutdown()
    }

    /// Sends through the client, naming the call and the endpoint in transport failures.
    private func send(
        _ label: String,
        _ method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer? = nil
    ) async throws -> AWSResponse {
        do {
            return try await self.client.send(method, path: path, query: query, headers: headers, body: body)
        } catch var error as AWSError {
            error.message = "S3 \(label) failed (\(self.endpoint)): \(error.message)"
            throw error
        }
    }

    // MARK: - Requests and answers

    /// `/bucket` or `/bucket/key`, each part encoded once, `/` kept in keys.
    static func path(_ bucket: String, _ key: String?) throws(AWSError) -> String {
        guard Self.isValidBucketName(bucket) else {
            throw AWSError(.invalidArgument, "'\(bucket)' is not a valid S3 bucket name")
        }
        guard let key else { return "/\(bucket)" }
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw AWSError(.invalidArgument, "S3 keys have 1 to 1024 bytes; '\(key.prefix(80))' does not")
        }
        return "/\(bucket)/" + SigV4Signer.uriEncode(key, keepingSlashes: true)
    }

    /// 3 to 63 characters of lower-case letters, digits, `.` and `-`, starting and ending with
    /// a letter or digit.
    public static func isValidBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard (3...63).contains(bytes.count), isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else {
            return false
        }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func expectSuccess(_ response: AWSResponse, _ label: String) throws {
        guard (200..<300).contains(response.status.code) else { throw Self.error(response, label) }
    }

    /// S3's `<Error><Code>…</Code><Message>…</Message></Error>`, if the body is one.
    static func errorDocument(_ body: ByteBuffer) -> (code: String, message: String?)? {
        guard body.readableBytes > 0, let root = try? XMLTree.parse(body.readableBytesView), root.name == "Error",
            let code = root.text(of: "Code"), !code.isEmpty
        else { return nil }
        return (code, root.text(of: "Message"))
    }

    private static func errorCode(_ response: AWSResponse) -> String? {
        Self.errorDocument(response.body)?.code
    }

    /// The error for a refused request, quoting S3's code and message when it sent them.
    static func error(_ response: AWSResponse, _ label: String) -> AWSError {
        let status = Int(response.status.code)
        guard let document = Self.errorDocument(response.body) else {
            let code = "\(status) \(response.status.reasonPhrase)"
            return AWSError(.refused, "S3 \(label) refused: \(code)", status: status)
        }
        var message = "S3 \(label) refused: \(document.code)"
        if let detail = document.message, !detail.isEmpty {
            message += ": \(detail.prefix(300))"
        }
        return AWSError(.refused, message, status: status, serviceCode: document.code)
    }

    /// Throws for the first `<Error>` of a DeleteObjects answer, which S3 sends with status 200.
    static func checkDeleteResult(_ body: ByteBuffer, _ label: String) throws(AWSError) {
        guard body.readableBytes > 0 else { return }
        let root = try Self.document(body, root: "DeleteResult", label)
        guard let failed = root.children("Error").first else { return }
        let code = failed.text(of: "Code") ?? "unknown"
        var message = "S3 \(label) refused \(failed.text(of: "Key") ?? "a key"): \(code)"
        if let detail = failed.text(of: "Message"), !detail.isEmpty { message += ": \(detail.prefix(300))" }
        throw AWSError(.refused, message, serviceCode: code)
    }

    /// The answer's XML, whose root element must be `root`.
    private static func document(_ body: ByteBuffer, root name: String, _ label: String) throws(AWSError) -> XMLTree {
        let root: XMLTree
        do {
            root = try XMLTree.parse(body.readableBytesView)
        } catch {
            throw AWSError(.malformedResponse, "S3 \(label): unreadable answer: \(error)")
        }
        guard root.name == name else {
            throw AWSError(.malformedResponse, "S3 \(label): expected <\(name)>, got <\(root.name)>")
        }
        return root
    }

    static func parseListing(_ body: ByteBuffer, _ label: String) throws(AWSError) -> S3ObjectList {
        let root = try Self.document(body, root: "ListBucketResult", label)
        var objects: [S3ObjectList.Entry] = []
        for entry in root.children("Contents") {
            guard let key = entry.text(of: "Key"), !key.isEmpty,
                let size = entry.text(of: "Size").flatMap({ Int($0) }), size >= 0
            else {
                throw AWSError(.malformedResponse, "S3 \(label): listing entry without a key or size")
            }
            objects.append(S3ObjectList.Entry(key: key, size: size))
        }
        let truncated = root.text(of: "IsTruncated") == "true"
        let token = root.text(of: "NextContinuationToken")
        if truncated, token?.isEmpty ?? true {
            throw AWSError(.malformedResponse, "S3 \(label): truncated listing without a continuation token")
        }
        return S3ObjectList(objects: objects, nextContinuationToken: truncated ? token : nil)
    }
}
