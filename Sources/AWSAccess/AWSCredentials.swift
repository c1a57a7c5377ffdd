/// An AWS access key pair, plus the session token that temporary credentials carry.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// The token of temporary (STS) credentials; sent as `x-amz-security-token`.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set,
    /// `AWS_SESSION_TOKEN`.
    ///
    /// - Throws: ``AWSError`` `.invalidArgument` when the key id or the secret is missing.
    public static func fromEnvironment() throws(AWSError) -> AWSCredentials {
        guard let keyID = Environment.value("AWS_ACCESS_KEY_ID"),
            let secret = Environment.value("AWS_SECRET_ACCESS_KEY")
        else {
            throw AWSError(.invalidArgument, "AWS credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        return AWSCredentials(
            accessKeyID: keyID,
            secretAccessKey: secret,
            sessionToken: Environment.value("AWS_SESSION_TOKEN")
        )
    }

    /// Names the key only, so credentials can be logged without leaking the secret.
    public var description: String {
        "AWSCredentials(\(self.accessKeyID)\(self.sessionToken == nil ? "" : ", with session token"))"
    }
}
