#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Process environment lookups; an empty value counts as unset, as the AWS SDKs treat it.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    /// The first of `names` that is set.
    static func firstValue(_ names: String...) -> String? {
        for name in names {
            if let value = Self.value(name) { return value }
        }
        return nil
    }

    /// Seconds since 1970 on the wall clock.
    static func currentUnixTime() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
