import Synchronization

/// How long a read waits for the nodes it asked before it asks the spare nodes too: the smoothed
/// response time plus four mean deviations, as TCP sets its retransmission timeout (RFC 6298),
/// learnt from every chunk that arrives. A read asks only the nodes it needs, so a healthy
/// stripe costs `d` requests rather than `d + p`, and a slow or stuck node costs this long, not
/// the node timeout.
final class HedgeDelay: Sendable {
    /// Before the first answer, and the bounds the estimate is kept in.
    static let initial = Duration.milliseconds(50)
    static let minimum = Duration.milliseconds(1)
    static let maximum = Duration.seconds(1)

    private struct Estimate {
        var smoothed: Double
        var deviation: Double
    }

    /// In seconds; nil until the first sample.
    private let estimate = Mutex<Estimate?>(nil)
    private let hedges = Atomic(0)

    /// Stripe reads that asked the spare nodes because the delay passed.
    var hedgeCount: Int { hedges.load(ordering: .relaxed) }

    func countHedge() { hedges.add(1, ordering: .relaxed) }

    /// The delay to use now.
    var current: Duration {
        guard let estimate = estimate.withLock({ $0 }) else { return Self.initial }
        let delay = Duration.seconds(estimate.smoothed + 4 * estimate.deviation)
        return min(max(delay, Self.minimum), Self.maximum)
    }

    /// Learns from one node's response time.
    func record(_ sample: Duration) {
        let seconds = sample / .seconds(1)
        estimate.withLock { estimate in
            guard var current = estimate else {
                estimate = Estimate(smoothed: seconds, deviation: seconds / 2)
                return
            }
            current.deviation = 0.75 * current.deviation + 0.25 * abs(current.smoothed - seconds)
            current.smoothed = 0.875 * current.smoothed + 0.125 * seconds
            estimate = current
        }
    }
}
