/// Wing and Gong's linearizability search over one register's sub-history, with Lowe's cache.
///
/// Operations with a deadline become a list of call and return events in time order, calls
/// before returns at equal times (so operations that touch at an instant count as concurrent).
/// Linearizing an operation unlinks its events; backtracking relinks them (dancing links), so a
/// step costs little beyond the cache lookup. Writes of unknown outcome have no deadline and sit
/// in a list of their own.
///
/// Four rules keep the search small without losing linearizations:
/// - A read that agrees with the register goes next whenever it may (it changes nothing, and
///   nothing unplaced has to precede it), with no alternative tried.
/// - Otherwise only writes can go next, tried earliest deadline first, the order in which a
///   correct store mostly applied them.
/// - A write that may never have taken effect can always be moved later, up to just before a
///   read that saw its value, or dropped at its deadline if none did: it is tried only when such
///   a read is waiting. Unanswered writes of one value that are all invoked are interchangeable,
///   so one of them is tried.
/// - With unique values, a value's only writer must take effect before the first read of that
///   value responded, which gives it an earlier deadline (or one at all).
struct RegisterSearch {
    enum Verdict {
        case linearizable
        case violation
        case undecided
    }

    /// What an operation does to the register, with values numbered (0 is missing).
    private enum Effect {
        case write(Int)
        case read(Int)
    }

    /// A state already explored: the linearized set and the register's value. The set's hash is
    /// kept incrementally (Zobrist hashing), so hashing a key does not walk the bitset.
    private struct Explored: Hashable {
        var setHash: UInt64
        var value: Int
        var words: [UInt64]

        func hash(into hasher: inout Hasher) {
            hasher.combine(self.setHash)
            hasher.combine(self.value)
        }
    }

    /// One way to go on from a state.
    private struct Choice {
        var operation: Int
        /// Whether the operation is dropped (it never took effect) rather than applied.
        var dropped = false
    }

    /// What may go next from a state, in the order to try it.
    private struct Choices {
        var ranked: [Choice]
        /// Whether `ranked` is a single read that goes next without loss of generality.
        var forced: Bool
        /// The first pending return event: its operation must be placed before anything that
        /// was invoked after it responded.
        var deadline: Int
    }

    /// The operations that constrain the register, each with its effect.
    private let operations: [Operation]
    private let effects: [Effect]
    /// Whether each operation may also never have taken effect.
    private let optional: [Bool]
    private let values: [BinaryString?]
    /// Each operation's deadline; unbounded for writes of unknown outcome.
    private let returnTimes: [UInt64]
    /// Events with a deadline: index `i < n` is operation `i`'s call, `n + i` its return,
    /// `2n` the head.
    private var next: [Int]
    private var previous: [Int]
    private var head: Int { 2 * self.operations.count }
    /// Writes without a deadline, by invocation: index `i` is operation `i`, `n` the head.
    private var nextUnanswered: [Int]
    private var previousUnanswered: [Int]
    private var unansweredHead: Int { self.operations.count }
    /// Where the searched window starts; nil when the whole history is searched from a missing key.
    private let windowStart: UInt64?
    /// The register's value before the first operation: missing, or any value in a window.
    private var initialValue: Int { self.windowStart == nil ? 0 : Self.anyValue }
    /// Stands for the arbitrary value a window starts from; a read fixes it.
    private static let anyValue = -1

    private(set) var statesExplored = 0
    /// The longest partial linearization seen: its length, last operations and value, and the
    /// operation whose response stopped it.
    private var deepest: (depth: Int, tail: [Int], value: Int, blocked: Int)?

    /// Prepares the search over `history`, all of it on one key.
    ///
    /// With a `windowStart`, only a window of the history is searched, from an arbitrary
    /// starting value: operations that responded before `windowStart` are left out, reads
    /// invoked before it too, and writes invoked before it may also never take effect. Every
    /// linearization of the whole history gives one of the window (the register holds some value
    /// once the last operation left out has taken effect), so a window that cannot be
    /// linearized proves the whole history cannot.
    init(_ history: [Operation], from windowStart: UInt64? = nil) {
        var valueIDs: [BinaryString: Int] = [:]
        var values: [BinaryString?] = [nil]
        func id(_ value: BinaryString?) -> Int {
            guard let value else { return 0 }
            if let id = valueIDs[value] { return id }
            values.append(value)
            valueIDs[value] = values.count - 1
            return values.count - 1
        }
        var candidates: [(operation: Operation, effect: Effect, optional: Bool)] = []
        for operation in history {
            if operation.outcome == .failed { continue }
            let answered = operation.outcome != .unknown
            let straddles = windowStart.map { operation.invocation < $0 } ?? false
            if let windowStart, answered && operation.response < windowStart { continue }
            switch (operation.kind, operation.outcome) {
            case (.read, .returned(let value)) where !straddles:
                candidates.append((operation, .read(id(value)), false))
            case (.read, _):
                continue
            case (.write(let value), _):
                candidates.append((operation, .write(id(value)), !answered || straddles))
            case (.delete, _):
                candidates.append((operation, .write(0), !answered || straddles))
            }
        }
        var writers = Array(repeating: 0, count: values.count)
        var firstSeen = Array(repeating: UInt64.max, count: values.count)
        var lastSeen: [UInt64?] = Array(repeating: nil, count: values.count)
        for (operation, effect, _) in candidates {
            switch effect {
            case .write(let written):
                writers[written] += 1
            case .read(let read):
                firstSeen[read] = min(firstSeen[read], operation.response)
                lastSeen[read] = max(lastSeen[read] ?? 0, operation.response)
            }
        }
        var operations: [Operation] = []
        var effects: [Effect] = []
        var optional: [Bool] = []
        var returnTimes: [UInt64] = []
        for (operation, effect, isOptional) in candidates {
            var returnTime = operation.outcome == .unknown ? .max : max(operation.response, operation.invocation)
            var isOptional = isOptional
            if case .write(let written) = effect {
                // No read that responded after it began saw its value: it may as well never
                // have taken effect.
                if isOptional && (lastSeen[written] ?? 0) < operation.invocation { continue }
                // The missing value has another source, the key's initial state.
                if written != 0 && writers[written] == 1 && firstSeen[written] != .max {
                    returnTime = max(min(returnTime, firstSeen[written]), operation.invocation)
                    isOptional = false
                }
            }
            operations.append(operation)
            effects.append(effect)
            optional.append(isOptional)
            returnTimes.append(returnTime)
        }
        self.operations = operations
        self.effects = effects
        self.optional = optional
        self.values = values
        self.returnTimes = returnTimes
        self.windowStart = windowStart

        let count = operations.count
        let timed = operations.indices.filter { returnTimes[$0] != .max }
        let events = (timed + timed.map { count + $0 }).sorted { a, b in
            let timeA = a < count ? operations[a].invocation : returnTimes[a - count]
            let timeB = b < count ? operations[b].invocation : returnTimes[b - count]
            return (timeA, a < count ? 0 : 1, a) < (timeB, b < count ? 0 : 1, b)
        }
        (self.next, self.previous) = Self.linkedList(events, head: 2 * count)
        let unanswered = operations.indices.filter { returnTimes[$0] == .max }.sorted {
            (operations[$0].invocation, $0) < (operations[$1].invocation, $1)
        }
        (self.nextUnanswered, self.previousUnanswered) = Self.linkedList(unanswered, head: count)
    }

    /// Links `order` after `head` in arrays of `head + 1` entries; -1 ends the list.
    private static func linkedList(_ order: [Int], head: Int) -> (next: [Int], previous: [Int]) {
        var next = Array(repeating: -1, count: head + 1)
        var previous = Array(repeating: -1, count: head + 1)
        var last = head
        for element in order {
            next[last] = element
            previous[element] = last
            last = element
        }
        return (next, previous)
    }

    /// Searches for a linearization, exploring at most `maximumStates` states.
    ///
    /// With a `target`, the search ends as soon as that operation is placed, and the window or
    /// history up to it counts as linearizable.
    mutating func run(maximumStates: Int, stoppingAfter target: Operation? = nil) -> Verdict {
        let count = self.operations.count
        let stop = target.flatMap { self.operations.firstIndex(of: $0) }
        var linearized = [UInt64](repeating: 0, count: (count + 63) / 64)
        var setHash: UInt64 = 0
        var value = self.initialValue
        var explored = Set<Explored>()
        // The linearization so far: each choice, the value before it, and the rank of the next
        // choice to try if it is undone.
        var stack: [(choice: Choice, valueBefore: Int, resume: Int)] = []
        var choices = self.choices(at: value)
        var rank = 0
        // Once every operation with a deadline is placed, the others can all go last (or never).
        while self.next[self.head] != -1 {
            guard rank < choices.ranked.count else {
                if !choices.forced && stack.count > self.deepest?.depth ?? -1 {
                    let tail = stack.suffix(Counterexample.tailLength).filter { !$0.choice.dropped }
                    self.deepest = (stack.count, tail.map(\.choice.operation), value, choices.deadline - count)
                }
                guard let last = stack.popLast() else { return .violation }
                Self.toggle(last.choice.operation, &linearized, &setHash)
                value = last.valueBefore
                self.relink(last.choice.operation)
                choices = self.choices(at: value)
                rank = last.resume
                continue
            }
            let choice = choices.ranked[rank]
            rank += 1
            let after = choice.dropped ? value : self.apply(self.effects[choice.operation])
            Self.toggle(choice.operation, &linearized, &setHash)
            guard explored.insert(Explored(setHash: setHash, value: after, words: linearized)).inserted else {
                // Explored before, and it led nowhere.
                Self.toggle(choice.operation, &linearized, &setHash)
                continue
            }
            self.statesExplored += 1
            if self.statesExplored > maximumStates { return .undecided }
            if choice.operation == stop { return .linearizable }
            stack.append((choice, value, choices.forced ? Int.max : rank))
            value = after
            self.unlink(choice.operation)
            choices = self.choices(at: value)
            rank = 0
        }
        return .linearizable
    }

    /// What may go next when the register holds `value`: among the operations invoked before
    /// the first pending response, a read that agrees with `value` alone, else the writes
    /// (optional ones only if a waiting read saw their value), dropping the operation whose
    /// deadline that is if it is optional.
    private func choices(at value: Int) -> Choices {
        let count = self.operations.count
        var event = self.next[self.head]
        var writes: [Int] = []
        var waitingReads: [Int] = []
        var ranked: [Choice] = []
        while event != -1 && event < count {
            switch self.effects[event] {
            case .read(let read) where read == value:
                return Choices(ranked: [Choice(operation: event)], forced: true, deadline: -1)
            case .read(let read):
                // From an arbitrary value, any one read of each value may fix it.
                if value == Self.anyValue && !waitingReads.contains(read) { ranked.append(Choice(operation: event)) }
                waitingReads.append(read)
            case .write:
                writes.append(event)
            }
            event = self.next[event]
        }
        guard event != -1 else { return Choices(ranked: [], forced: false, deadline: -1) }
        for write in writes where !self.optional[write] || waitingReads.contains(self.writtenValue(write)) {
            ranked.append(Choice(operation: write))
        }
        let deadline = self.returnTimes[event - count]
        var unanswered = self.nextUnanswered[self.unansweredHead]
        var offered: [Int] = []
        while unanswered != -1 && self.operations[unanswered].invocation <= deadline {
            let written = self.writtenValue(unanswered)
            if waitingReads.contains(written) && !offered.contains(written) {
                offered.append(written)
                ranked.append(Choice(operation: unanswered))
            }
            unanswered = self.nextUnanswered[unanswered]
        }
        ranked.sort { (self.returnTimes[$0.operation], $0.operation) < (self.returnTimes[$1.operation], $1.operation) }
        if self.optional[event - count] {
            ranked.append(Choice(operation: event - count, dropped: true))
        }
        return Choices(ranked: ranked, forced: false, deadline: event)
    }

    /// The register's value after an operation that may go next.
    private func apply(_ effect: Effect) -> Int {
        switch effect {
        case .write(let written), .read(let written):
            return written
        }
    }

    private func writtenValue(_ operation: Int) -> Int {
        guard case .write(let written) = self.effects[operation] else {
            preconditionFailure("operation \(operation) is a read")
        }
        return written
    }

    /// Adds an operation to the linearized set, or takes it out.
    private static func toggle(_ operation: Int, _ linearized: inout [UInt64], _ setHash: inout UInt64) {
        linearized[operation / 64] ^= 1 << UInt64(operation % 64)
        var generator = SplitMix64(seed: UInt64(operation))
        setHash ^= generator.next()
    }

    /// The operation whose response stopped the longest partial linearization, if any did.
    var blocked: Operation? {
        self.deepest.map { self.operations[$0.blocked] }
    }

    /// Explains the longest partial linearization, if the search got stuck anywhere.
    func counterexample(key: BinaryString) -> Counterexample? {
        guard let deepest = self.deepest else { return nil }
        let blocked = self.operations[deepest.blocked]
        return Counterexample(
            key: key,
            windowStart: self.windowStart,
            windowCount: self.windowStart == nil
                ? self.operations.count : self.operations.count { $0.invocation <= blocked.response },
            linearizedCount: deepest.depth,
            linearizedTail: deepest.tail.map { self.operations[$0] },
            registerValue: deepest.value == Self.anyValue ? nil : self.values[deepest.value],
            blocked: blocked,
            concurrent: self.operations.indices.filter { other in
                other != deepest.blocked
                    && self.operations[other].invocation <= blocked.response
                    && self.returnTimes[other] >= blocked.invocation
            }.prefix(Counterexample.concurrentLength).map { self.operations[$0] }
        )
    }

    /// Takes an operation's events out of their list.
    private mutating func unlink(_ operation: Int) {
        if self.returnTimes[operation] == .max {
            Self.remove(operation, &self.nextUnanswered, &self.previousUnanswered)
        } else {
            Self.remove(operation, &self.next, &self.previous)
            Self.remove(operation + self.operations.count, &self.next, &self.previous)
        }
    }

    /// Puts back what ``unlink(_:)`` took out, in the reverse order.
    private mutating func relink(_ operation: Int) {
        if self.returnTimes[operation] == .max {
            Self.reinsert(operation, &self.nextUnanswered, &self.previousUnanswered)
        } else {
            Self.reinsert(operation + self.operations.count, &self.next, &self.previous)
            Self.reinsert(operation, &self.next, &self.previous)
        }
    }

    private static func remove(_ element: Int, _ next: inout [Int], _ previous: inout [Int]) {
        next[previous[element]] = next[element]
        if next[element] != -1 { previous[next[element]] = previous[element] }
    }

    /// Undoes ``remove(_:_:_:)``: the removed element still knows its neighbours.
    private static func reinsert(_ element: Int, _ next: inout [Int], _ previous: inout [Int]) {
        next[previous[element]] = element
        if next[element] != -1 { previous[next[element]] = element }
    }
}
