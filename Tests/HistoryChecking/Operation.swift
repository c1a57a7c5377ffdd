/// One client operation on one key, as seen by the client: what it asked, when, and what it
/// learned.
///
/// Times are nanoseconds on one monotonic clock shared by all clients (see ``HistoryRecorder``).
/// The operation may take effect anywhere in `invocation...response`; an operation with an
/// ``Outcome/unknown`` outcome may also take effect after its response, or never.
public struct Operation: Hashable, Sendable, CustomStringConvertible {
    /// What the client asked for. DEL counts as a write of nil.
    public enum Kind: Hashable, Sendable {
        case write(BinaryString)
        case read
        case delete
    }

    /// What the client learned.
    public enum Outcome: Hashable, Sendable {
        /// The write or delete was acknowledged.
        case ok
        /// The read returned this value; nil means the key was missing.
        case returned(BinaryString?)
        /// The operation definitely did not take effect (an error known to leave the key alone).
        case failed
        /// The client cannot tell whether it took effect: a timeout, a lost connection, or an
        /// error reply that does not say.
        case unknown
    }

    public var client: Int
    public var key: BinaryString
    public var kind: Kind
    /// When the request was about to be sent.
    public var invocation: UInt64
    /// When the client learned the outcome, or gave up waiting for it.
    public var response: UInt64
    public var outcome: Outcome

    public init(
        client: Int,
        key: BinaryString,
        kind: Kind,
        invocation: UInt64,
        response: UInt64,
        outcome: Outcome
    ) {
        self.client = client
        self.key = key
        self.kind = kind
        self.invocation = invocation
        self.response = response
        self.outcome = outcome
    }

    public var description: String {
        var action = "\(self.kind.commandName) \(self.key)"
        if case .write(let value) = self.kind { action += " \(value)" }
        let result: String
        switch self.outcome {
        case .ok: result = "ok"
        case .returned(let value): result = value.map(\.description) ?? "nil"
        case .failed: result = "failed"
        case .unknown: result = "unknown"
        }
        return "client \(self.client) \(action) → \(result) [\(self.invocation), \(self.response)]"
    }
}

extension Operation.Kind {
    /// The Redis command that performs it.
    var commandName: String {
        switch self {
        case .write: "SET"
        case .read: "GET"
        case .delete: "DEL"
        }
    }
}
