/// Checks that a history of SET, GET and DEL operations is linearizable, each key being an
/// independent register that starts out missing.
///
/// Keys are checked one at a time: a history is linearizable exactly when each key's
/// sub-history is (Herlihy and Wing's locality, the P-compositionality that makes this cheap).
/// Each key's search is Wing and Gong's: repeatedly pick an operation invoked before every
/// not-yet-linearized operation responded, apply it to the register if the result agrees with
/// what the client saw, and backtrack when none fits. Lowe's memoization prunes any
/// (set of linearized operations, register value) pair already explored.
///
/// Operations whose outcome is unknown may take effect at any time after their invocation, or
/// never; reads among them are dropped because they constrain nothing. Failed operations are
/// dropped. DEL is a write of nil.
///
/// When a key fails, or its search runs long, windows of growing size that end at the
/// operation the search got stuck on are searched from an arbitrary starting value: the
/// smallest that fails is reported, as it names just the operations involved.
public struct LinearizabilityChecker: Sendable {
    /// The most (linearized set, value) states one key's search may explore before it gives up
    /// and reports the key as undecided; it bounds both time and memory.
    public var maximumStatesPerKey: Int

    public init(maximumStatesPerKey: Int = 200_000) {
        self.maximumStatesPerKey = maximumStatesPerKey
    }

    public func check(_ history: [Operation]) -> LinearizabilityResult {
        var keys: [BinaryString] = []
        var operationsByKey: [BinaryString: [Operation]] = [:]
        for operation in history {
            if operationsByKey[operation.key] == nil {
                keys.append(operation.key)
            }
            operationsByKey[operation.key, default: []].append(operation)
        }
        var result = LinearizabilityResult(
            violations: [], undecidedKeys: [], statesExplored: 0, operationCount: history.count, keyCount: keys.count
        )
        for key in keys {
            var states = 0
            switch self.check(key, operationsByKey[key] ?? [], states: &states) {
            case .linearizable:
                break
            case .undecided:
                result.undecidedKeys.append(key)
            case .violation(let counterexample):
                result.violations.append(counterexample)
            }
            result.statesExplored += states
        }
        return result
    }

    private enum KeyVerdict {
        case linearizable
        case violation(Counterexample)
        case undecided
    }

    /// Checks one key: a short search first, which settles correct histories; if it fails or
    /// runs long, windows around where it got stuck; then, if still needed, the full search.
    private func check(_ key: BinaryString, _ operations: [Operation], states: inout Int) -> KeyVerdict {
        // Correct histories of a few concurrent clients take a few states per operation.
        let quickBudget = min(self.maximumStatesPerKey, 8 * operations.count + 1_000)
        var search = RegisterSearch(operations)
        var verdict = search.run(maximumStates: quickBudget)
        states += search.statesExplored
        if case .linearizable = verdict { return .linearizable }
        if let blocked = search.blocked,
            let counterexample = self.smallestFailingWindow(key, operations, endingAt: blocked, states: &states)
        {
            return .violation(counterexample)
        }
        if case .undecided = verdict, states < self.maximumStatesPerKey {
            search = RegisterSearch(operations)
            verdict = search.run(maximumStates: self.maximumStatesPerKey - states)
            states += search.statesExplored
        }
        switch verdict {
        case .linearizable:
            return .linearizable
        case .undecided:
            return .undecided
        case .violation:
            guard let counterexample = search.counterexample(key: key) else {
                preconditionFailure("a failed search always stops at some operation's response")
            }
            return .violation(counterexample)
        }
    }

    /// Searches windows that start 0, 1, ..., 8, 17, 35, ... invocations before `blocked` (and
    /// finally at the first), each up to `blocked`, from an arbitrary value; returns the first
    /// to fail.
    private func smallestFailingWindow(
        _ key: BinaryString,
        _ operations: [Operation],
        endingAt blocked: Operation,
        states: inout Int
    ) -> Counterexample? {
        let starts = Set(operations.map(\.invocation).filter { $0 <= blocked.invocation }).sorted(by: >)
        var offset = 0
        while offset < starts.count {
            var window = RegisterSearch(operations, from: starts[offset])
            let verdict = window.run(maximumStates: self.maximumStatesPerKey - states, stoppingAfter: blocked)
            states += window.statesExplored
            switch verdict {
            case .violation:
                return window.counterexample(key: key)
            case .undecided:
                return nil
            case .linearizable:
                let next = offset < 8 ? offset + 1 : 2 * offset + 1
                offset = offset == starts.count - 1 ? starts.count : min(next, starts.count - 1)
            }
        }
        return nil
    }
}

/// The verdict on a whole history.
public struct LinearizabilityResult: Sendable, CustomStringConvertible {
    /// One counterexample for each key whose sub-history is not linearizable.
    public var violations: [Counterexample]
    /// Keys whose search ran out of its state budget before reaching a verdict.
    public var undecidedKeys: [BinaryString]
    /// States explored over all keys: a measure of the work done.
    public var statesExplored: Int
    public var operationCount: Int
    public var keyCount: Int

    /// Whether every key was proven linearizable.
    public var isLinearizable: Bool {
        self.violations.isEmpty && self.undecidedKeys.isEmpty
    }

    public var description: String {
        var lines: [String] = []
        if self.isLinearizable {
            lines.append("linearizable")
        }
        lines.append(
            "\(self.operationCount) operations on \(self.keyCount) key(s), \(self.statesExplored) states explored"
        )
        lines += self.violations.map(\.description)
        if !self.undecidedKeys.isEmpty {
            let keys = self.undecidedKeys.map(\.description).joined(separator: ", ")
            lines.append("undecided (state budget exhausted): \(keys)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Why one key's sub-history is not linearizable, told from the longest partial linearization
/// the search found.
public struct Counterexample: Sendable, CustomStringConvertible {
    public var key: BinaryString
    /// Where the window that cannot be linearized starts: it holds the operations running at
    /// that time or invoked later, up to ``blocked``'s response, and may start from any value.
    /// Nil when the window is the key's whole history, starting from a missing key.
    public var windowStart: UInt64?
    /// How many operations the window holds, less those that constrain nothing.
    public var windowCount: Int
    /// How many of the window's operations the longest partial linearization placed (or, for
    /// those that may never have taken effect, dropped).
    public var linearizedCount: Int
    /// The last operations of that partial linearization, oldest first (at most five).
    public var linearizedTail: [Operation]
    /// The register's value after it; nil means missing (or, when nothing was placed in a
    /// window, any value).
    public var registerValue: BinaryString?
    /// The operation that could not take effect next, nor be overtaken before its response.
    public var blocked: Operation
    /// The key's other operations that overlap `blocked` in time, in invocation order (at most
    /// ten are kept).
    public var concurrent: [Operation]

    /// How many operations ``linearizedTail`` and ``concurrent`` keep at most.
    static let tailLength = 5
    static let concurrentLength = 10

    public var description: String {
        var lines = ["key \(self.key): not linearizable."]
        if let windowStart = self.windowStart {
            lines.append(
                "  Even from any starting value, the \(self.windowCount) operations running from \(windowStart)"
                    + " to \(self.blocked.response) cannot be ordered."
            )
        }
        if self.linearizedCount == 0 {
            let start = self.windowStart == nil ? "the key starting missing" : "whatever the value"
            lines.append("  No operation can take effect first, \(start).")
        } else {
            lines.append("  The longest linearization found places \(self.linearizedCount) operations, ending with")
            lines += self.linearizedTail.map { "    \($0)" }
            lines.append("  which leaves the register at \(self.registerValue.map(\.description) ?? "nil (missing)").")
        }
        lines.append("  Then this operation can neither take effect next nor wait past its response:")
        lines.append("    \(self.blocked)")
        if !self.concurrent.isEmpty {
            lines.append("  Operations concurrent with it:")
            lines += self.concurrent.map { "    \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
