/// One event handed to the function by `GET /runtime/invocation/next`.
public struct Invocation: Hashable, Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`: the id to answer with `respond` or `reportError`.
    public var requestID: String
    /// `Lambda-Runtime-Deadline-Ms`: when the invocation times out, in milliseconds since the
    /// Unix epoch. Wall-clock based because it crosses process (and machine) boundaries.
    public var deadlineEpochMilliseconds: Int64
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    public var invokedFunctionARN: String
    /// `Lambda-Runtime-Trace-Id`, when present.
    public var traceID: String?
    /// `Lambda-Runtime-Client-Context`, when present.
    public var clientContext: String?
    /// `Lambda-Runtime-Cognito-Identity`, when present.
    public var cognitoIdentity: String?
    /// The event payload, opaque bytes.
    public var payload: [UInt8]

    public init(
        requestID: String,
        deadlineEpochMilliseconds: Int64,
        invokedFunctionARN: String,
        traceID: String? = nil,
        clientContext: String? = nil,
        cognitoIdentity: String? = nil,
        payload: [UInt8]
    ) {
        self.requestID = requestID
        self.deadlineEpochMilliseconds = deadlineEpochMilliseconds
        self.invokedFunctionARN = invokedFunctionARN
        self.traceID = traceID
        self.clientContext = clientContext
        self.cognitoIdentity = cognitoIdentity
        self.payload = payload
    }

    /// Time left until the deadline by the wall clock (negative once it has passed), so a
    /// caller can turn the deadline into a `ContinuousClock` instant or a timeout.
    public func remainingTime() -> Duration {
        .milliseconds(self.deadlineEpochMilliseconds - RuntimeAPIProtocol.currentEpochMilliseconds())
    }
}

/// How a function instance answered one invocation.
public enum InvocationResult: Hashable, Sendable {
    /// The runtime posted a response payload.
    case response([UInt8])
    /// The runtime reported an error for the invocation (or an initialization error).
    case functionError(type: String, message: String)
}
