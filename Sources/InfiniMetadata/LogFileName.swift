/// The names of the files in a log directory: `log-<n>`, `checkpoint-<n>` and
/// `checkpoint-<n>.tmp`, with `n` written as 20 decimal digits so names sort in order.
enum LogFileName: Hashable {
    case segment(UInt64)
    case checkpoint(UInt64)
    case temporaryCheckpoint(UInt64)

    static let lock = "LOCK"

    /// Parses a directory entry; nil for anything the log does not own.
    init?(_ name: String) {
        if let sequence = Self.sequence(name, prefix: "log-", suffix: "") {
            self = .segment(sequence)
        } else if let sequence = Self.sequence(name, prefix: "checkpoint-", suffix: "") {
            self = .checkpoint(sequence)
        } else if let sequence = Self.sequence(name, prefix: "checkpoint-", suffix: ".tmp") {
            self = .temporaryCheckpoint(sequence)
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .segment(let sequence): "log-" + Self.digits(sequence)
        case .checkpoint(let sequence): "checkpoint-" + Self.digits(sequence)
        case .temporaryCheckpoint(let sequence): "checkpoint-" + Self.digits(sequence) + ".tmp"
        }
    }

    func path(in directory: String) -> String { directory + "/" + name }

    static func digits(_ sequence: UInt64) -> String {
        let text = String(sequence)
        return String(repeating: "0", count: max(0, 20 - text.count)) + text
    }

    private static func sequence(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }
}
