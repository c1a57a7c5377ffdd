/// An error from either side of the Lambda Runtime API: the client in the memory node or the
/// local server in the proxy.
public struct RuntimeAPIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidArgument
            case connectionFailed
            case connectionClosed
            case malformedResponse
            case responseTooLarge
            case payloadTooLarge
            case unexpectedStatus
            case bindFailed
            case timedOut
            case instanceFailed
            case shutDown
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A caller-supplied value (endpoint, request id) is unusable.
        public static let invalidArgument = Code(.invalidArgument)
        /// The TCP connection to the Runtime API could not be established.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection closed before a complete response arrived.
        public static let connectionClosed = Code(.connectionClosed)
        /// The peer sent something that is not a valid Runtime API response.
        public static let malformedResponse = Code(.malformedResponse)
        /// A response's headers or body exceeded the configured limits.
        public static let responseTooLarge = Code(.responseTooLarge)
        /// The Runtime API rejected a request body as too large (HTTP 413).
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// The Runtime API answered with a status the operation does not expect.
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// The local server could not bind its listening socket.
        public static let bindFailed = Code(.bindFailed)
        /// An invocation was not answered before its deadline.
        public static let timedOut = Code(.timedOut)
        /// The function instance went away (for example its process exited) with invocations pending.
        public static let instanceFailed = Code(.instanceFailed)
        /// The local server was shut down with invocations pending, or was used after shutdown.
        public static let shutDown = Code(.shutDown)

        public var description: String {
            switch self.base {
            case .invalidArgument: "invalidArgument"
            case .connectionFailed: "connectionFailed"
            case .connectionClosed: "connectionClosed"
            case .malformedResponse: "malformedResponse"
            case .responseTooLarge: "responseTooLarge"
            case .payloadTooLarge: "payloadTooLarge"
            case .unexpectedStatus: "unexpectedStatus"
            case .bindFailed: "bindFailed"
            case .timedOut: "timedOut"
            case .instanceFailed: "instanceFailed"
            case .shutDown: "shutDown"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// A one-line human-readable explanation.
    public let message: String

    /// Creates an error; line breaks in `message` are flattened so log lines stay single-line.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = String(message.map { $0.isNewline ? " " : $0 })
    }

    public var description: String {
        "RuntimeAPIError.\(self.code): \(self.message)"
    }
}
