/// A failed AWS request: what went wrong and, when the service answered, its status and its
/// own error code and message.
public struct AWSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidArgument
            case connectionFailed
            case timedOut
            case responseTooLarge
            case malformedResponse
            case refused
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A caller-supplied value (endpoint, credentials, bucket name) is unusable.
        public static let invalidArgument = Code(.invalidArgument)
        /// No connection could be made, or it broke before a complete response.
        public static let connectionFailed = Code(.connectionFailed)
        /// The service did not answer within the request timeout.
        public static let timedOut = Code(.timedOut)
        /// A response's headers or body exceeded the configured limits.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// The service answered something that is not valid HTTP or not the expected document.
        public static let malformedResponse = Code(.malformedResponse)
        /// The service answered with an error status; see ``AWSError/status`` and
        /// ``AWSError/serviceCode``.
        public static let refused = Code(.refused)

        public var description: String {
            switch self.base {
            case .invalidArgument: "invalidArgument"
            case .connectionFailed: "connectionFailed"
            case .timedOut: "timedOut"
            case .responseTooLarge: "responseTooLarge"
            case .malformedResponse: "malformedResponse"
            case .refused: "refused"
            }
        }
    }

    public var code: Code
    /// The HTTP status of the service's answer, when there was one.
    public var status: Int?
    /// The service's own error code, such as `SignatureDoesNotMatch` or `NoSuchBucket`.
    public var serviceCode: String?
    /// One line: what failed and, when the service said why, its own words.
    public var message: String

    public init(_ code: Code, _ message: String, status: Int? = nil, serviceCode: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.serviceCode = serviceCode
    }

    /// Whether the same request may succeed if sent again: connection failures, timeouts and
    /// server-side errors (5xx, including S3's `503 SlowDown`). Client errors (4xx) never are.
    public var isRetryable: Bool {
        switch self.code {
        case .connectionFailed, .timedOut: true
        case .refused: (self.status ?? 0) >= 500
        default: false
        }
    }

    public var description: String { self.message }
}
