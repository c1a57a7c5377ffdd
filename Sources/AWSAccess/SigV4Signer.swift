import Crypto
public import NIOCore
public import NIOHTTP1

/// The parts of an HTTP request that a Signature Version 4 signature covers.
public struct SigV4Request: Sendable {
    public var method: HTTPMethod
    /// The path exactly as it goes on the wire, already percent-encoded where needed
    /// (see ``SigV4Signer/uriEncode(_:keepingSlashes:)``).
    public var path: String
    /// Query parameters, not encoded; ``SigV4Signer/canonicalQuery(_:)`` encodes and sorts them,
    /// and that string is also what goes on the wire.
    public var query: [(name: String, value: String)]
    /// Every header present when the request is signed is signed.
    public var headers: HTTPHeaders

    public init(
        method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = HTTPHeaders()
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The request target: the path, then the canonical query string when there is one.
    public var target: String {
        self.query.isEmpty ? self.path : self.path + "?" + SigV4Signer.canonicalQuery(self.query)
    }
}

/// The intermediate results of signing one request, kept so they can be compared with
/// published examples.
public struct SigV4Signature: Sendable, Hashable {
    public var canonicalRequest: String
    public var stringToSign: String
    /// Lower-case header names, `;`-separated, in the order they were signed.
    public var signedHeaders: String
    /// 64 lower-case hex digits.
    public var signature: String
    /// The value of the `Authorization` header.
    public var authorization: String
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) in the `Authorization` header.
///
/// For service `s3` the signer follows S3's rules: the path is signed exactly as sent (S3 keys
/// are encoded once, never twice), and the payload hash also goes in `x-amz-content-sha256`,
/// which S3 requires. For every other service the path is URI-encoded once more for the
/// canonical request. Paths are not normalised (no `.` or `//` folding); callers send clean
/// paths.
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The payload hash that tells S3 the body is not covered by the signature.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of no bytes, the payload hash of requests without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    private var isS3: Bool { self.service == "s3" }

    /// Signs `request` at `time`: sets `x-amz-date`, `x-amz-security-token` (with a session
    /// token), `x-amz-content-sha256` (S3), then `Authorization`, replacing earlier values.
    ///
    /// - Parameter payloadHash: ``payloadHash(of:)`` of the body, or ``unsignedPayload``.
    @discardableResult
    public func sign(_ request: inout SigV4Request, payloadHash: String, at time: AWSTimestamp) -> SigV4Signature {
        request.headers.remove(name: "Authorization")
        request.headers.replaceOrAdd(name: "X-Amz-Date", value: time.amzDate)
        if let token = self.credentials.sessionToken {
            request.headers.replaceOrAdd(name: "X-Amz-Security-Token", value: token)
        }
        if self.isS3 {
            request.headers.replaceOrAdd(name: "X-Amz-Content-SHA256", value: payloadHash)
        }
        let (canonicalRequest, signedHeaders) = self.canonicalRequest(request, payloadHash: payloadHash)
        let scope = self.credentialScope(at: time)
        let stringToSign = [
            Self.algorithm,
            time.amzDate,
            scope,
            Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let signature = Self.hex(
            HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: self.signingKey(at: time))
        )
        let authorization =
            "\(Self.algorithm) Credential=\(self.credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        request.headers.add(name: "Authorization", value: authorization)
        return SigV4Signature(
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signedHeaders: signedHeaders,
            signature: signature,
            authorization: authorization
        )
    }

    /// `date/region/service/aws4_request`.
    public func credentialScope(at time: AWSTimestamp) -> String {
        "\(time.dateStamp)/\(self.region)/\(self.service)/aws4_request"
    }

    /// The canonical request and the signed-header list for `request` as it stands.
    func canonicalRequest(_ request: SigV4Request, payloadHash: String) -> (text: String, signedHeaders: String) {
        // Header names are case-insensitive: group values by lower-cased name, keeping their order.
        var valuesByName: [String: [String]] = [:]
        for (name, value) in request.headers {
            valuesByName[name.lowercased(), default: []].append(Self.canonicalHeaderValue(value))
        }
        let names = valuesByName.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = names.map { "\($0):\(valuesByName[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalPath = self.isS3 ? request.path : Self.uriEncode(request.path, keepingSlashes: true)
        let text = [
            request.method.rawValue,
            canonicalPath.isEmpty ? "/" : canonicalPath,
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        return (text, signedHeaders)
    }

    /// HMAC chain from `AWS4` + secret over date, region, service and `aws4_request`.
    func signingKey(at time: AWSTimestamp) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(self.credentials.secretAccessKey)".utf8))
        for part in [time.dateStamp, self.region, self.service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    /// Hex SHA-256 of `body`, for the `payloadHash` of ``sign(_:payloadHash:at:)``.
    public static func payloadHash(of body: ByteBuffer?) -> String {
        guard let body, body.readableBytes > 0 else { return Self.emptyPayloadHash }
        return body.withUnsafeReadableBytes { Self.hex(SHA256.hash(data: $0)) }
    }

    /// Encodes every byte of the UTF-8 form except the unreserved `A-Z a-z 0-9 - _ . ~` (and `/`
    /// when `keepingSlashes`) as `%XY` with upper-case hex, as SigV4 requires.
    public static func uriEncode(_ text: String, keepingSlashes: Bool) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if Self.isUnreserved(byte) || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.append(byte)
            } else {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(Self.hexDigits[Int(byte >> 4)])
                encoded.append(Self.hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Names and values URI-encoded, sorted by encoded name then value, joined as `n=v&n=v`.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query
            .map { (Self.uriEncode($0.name, keepingSlashes: false), Self.uriEncode($0.value, keepingSlashes: false)) }
            .sorted { lhs, rhs in
                lhs.0 != rhs.0
                    ? lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
                    : lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Trims the value and folds each run of spaces and tabs inside it into one space.
    static func canonicalHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let lowerDigits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(lowerDigits[Int(byte >> 4)])
            text.append(lowerDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
