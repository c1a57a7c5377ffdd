/// How often and how patiently a failed request is sent again: only failures that
/// ``AWSError/isRetryable`` (connection failures, timeouts, 5xx including S3's `503 SlowDown`),
/// at most ``maxAttempts`` times in all, after exponentially growing delays with full jitter
/// (uniform between zero and the cap) so that many clients do not retry in step.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included; 1 means never retry.
    public var maxAttempts: Int
    /// The delay cap before the first retry; it doubles for each further retry.
    public var baseDelay: Duration
    /// The largest delay cap.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(2)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Send each request once.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// Whether `error`, the outcome of attempt number `attempt` (1-based), is worth another.
    public func shouldRetry(_ error: AWSError, afterAttempt attempt: Int) -> Bool {
        attempt < self.maxAttempts && error.isRetryable
    }

    /// The cap of the delay before retry number `retry` (1-based): `baseDelay · 2^(retry-1)`,
    /// at most `maxDelay`.
    public func delayCap(beforeRetry retry: Int) -> Duration {
        var cap = self.baseDelay
        for _ in 1..<max(1, retry) {
            cap *= 2
            if cap >= self.maxDelay { return self.maxDelay }
        }
        return min(cap, self.maxDelay)
    }

    /// A delay drawn uniformly from zero to ``delayCap(beforeRetry:)``.
    public func delay(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let capNanoseconds = Self.nanoseconds(self.delayCap(beforeRetry: retry))
        guard capNanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...capNanoseconds, using: &generator))
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
