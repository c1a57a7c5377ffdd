#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unix time in milliseconds, for expiry deadlines.
///
/// Deadlines are stored as absolute Unix milliseconds so they can outlive the process, but the
/// wall clock is read only once: after that time advances with the monotonic clock, so a step
/// of the system clock (NTP, an operator) neither expires keys early nor keeps them alive.
struct UnixClock: Sendable {
    private let originMilliseconds: Int64
    private let origin: ContinuousClock.Instant

    init() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        self.origin = .now
        self.originMilliseconds = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The current Unix time in milliseconds.
    func now() -> Int64 {
        let elapsed = ContinuousClock.now - origin
        return originMilliseconds + elapsed.components.seconds * 1000
            + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
