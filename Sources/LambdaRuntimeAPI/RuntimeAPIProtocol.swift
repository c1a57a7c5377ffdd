#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Paths, header names and small helpers of the Runtime API, version 2018-06-01, shared by the
/// client and the local server so both sides agree byte for byte.
enum RuntimeAPIProtocol {
    static let environmentVariable = "AWS_LAMBDA_RUNTIME_API"

    static let nextInvocationPath = "/2018-06-01/runtime/invocation/next"
    static let invocationPathPrefix = "/2018-06-01/runtime/invocation/"
    static let initErrorPath = "/2018-06-01/runtime/init/error"

    static let requestIDHeader = "Lambda-Runtime-Aws-Request-Id"
    static let deadlineHeader = "Lambda-Runtime-Deadline-Ms"
    static let functionARNHeader = "Lambda-Runtime-Invoked-Function-Arn"
    static let traceIDHeader = "Lambda-Runtime-Trace-Id"
    static let clientContextHeader = "Lambda-Runtime-Client-Context"
    static let cognitoIdentityHeader = "Lambda-Runtime-Cognito-Identity"
    static let functionErrorTypeHeader = "Lambda-Runtime-Function-Error-Type"

    static let errorContentType = "application/vnd.aws.lambda.error+json"

    /// Lambda's synchronous payload limit, used as the default bound for untrusted bodies.
    static let defaultMaxPayloadSize = 6 * 1024 * 1024

    static func responsePath(for requestID: String) -> String {
        invocationPathPrefix + requestID + "/response"
    }

    static func errorPath(for requestID: String) -> String {
        invocationPathPrefix + requestID + "/error"
    }

    /// Request ids travel inside URL paths, so only characters that need no escaping are
    /// accepted; AWS's own ids are UUIDs.
    static func isValidRequestID(_ id: some StringProtocol) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."):
                true
            default:
                false
            }
        }
    }

    /// A random version-4 UUID string, made without Foundation.
    static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var text = ""
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append("-") }
            text.append(hexDigit(byte >> 4))
            text.append(hexDigit(byte & 0x0F))
        }
        return text
    }

    /// An X-Ray style trace header, so runtimes that expect one find a plausible value.
    static func makeTraceID(epochMilliseconds: Int64) -> String {
        var generator = SystemRandomNumberGenerator()
        let seconds = UInt32(truncatingIfNeeded: max(0, epochMilliseconds / 1000))
        var random = ""
        for _ in 0..<12 {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            random.append(hexDigit(byte >> 4))
            random.append(hexDigit(byte & 0x0F))
        }
        return "Root=1-\(hex(seconds, width: 8))-\(random);Sampled=0"
    }

    private static func hexDigit(_ nibble: UInt8) -> Character {
        Character(Unicode.Scalar(nibble < 10 ? nibble + 48 : nibble + 87))
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Parses `host:port` (or `[v6-address]:port`), the form of `AWS_LAMBDA_RUNTIME_API`.
    static func parseEndpoint(_ endpoint: String) throws(RuntimeAPIError) -> (host: String, port: Int) {
        guard let colon = endpoint.lastIndex(of: ":") else {
            throw RuntimeAPIError(.invalidArgument, "runtime API endpoint '\(endpoint)' is not host:port")
        }
        var host = Substring(endpoint[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            throw RuntimeAPIError(
                .invalidArgument,
                "runtime API endpoint '\(endpoint)' has an IPv6 host without brackets"
            )
        }
        let portText = endpoint[endpoint.index(after: colon)...]
        guard !host.isEmpty, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = Int(portText),
            (1...65535).contains(port)
        else {
            throw RuntimeAPIError(.invalidArgument, "runtime API endpoint '\(endpoint)' is not host:port")
        }
        return (String(host), port)
    }

    /// Milliseconds since the Unix epoch from the wall clock, the unit of `Lambda-Runtime-Deadline-Ms`.
    static func currentEpochMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    static func environmentValue(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a positive duration never becomes a zero deadline.
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let millis = attoseconds / 1_000_000_000_000_000
        let remainder = attoseconds % 1_000_000_000_000_000
        if seconds >= Int64.max / 1000 - 1 { return .max }
        if seconds <= Int64.min / 1000 + 1 { return .min }
        return seconds * 1000 + millis + (remainder > 0 ? 1 : 0)
    }
}
