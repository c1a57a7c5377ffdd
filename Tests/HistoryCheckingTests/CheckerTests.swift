import HistoryChecking
import Testing

/// A SET of `value` on `key` during `interval`.
func set(
    _ value: BinaryString,
    _ interval: ClosedRange<UInt64>,
    _ outcome: Operation.Outcome = .ok,
    key: BinaryString = "x",
    client: Int = 0
) -> Operation {
    Operation(
        client: client, key: key, kind: .write(value),
        invocation: interval.lowerBound, response: interval.upperBound, outcome: outcome
    )
}

/// A GET of `key` during `interval` that returned `value` (nil: missing).
func get(
    _ value: BinaryString?,
    _ interval: ClosedRange<UInt64>,
    key: BinaryString = "x",
    client: Int = 1
) -> Operation {
    Operation(
        client: client, key: key, kind: .read,
        invocation: interval.lowerBound, response: interval.upperBound, outcome: .returned(value)
    )
}

/// A DEL of `key` during `interval`.
func del(
    _ interval: ClosedRange<UInt64>,
    _ outcome: Operation.Outcome = .ok,
    key: BinaryString = "x",
    client: Int = 2
) -> Operation {
    Operation(
        client: client, key: key, kind: .delete,
        invocation: interval.lowerBound, response: interval.upperBound, outcome: outcome
    )
}

/// `count` rounds of SET `v<i>` then GET of it, one after the other, four time units a round.
func setThenGet(_ count: Int) -> [Operation] {
    (0..<count).flatMap { index -> [Operation] in
        let time = UInt64(index) * 4
        let value = BinaryString("v\(index)")
        return [set(value, time...(time + 1)), get(value, (time + 2)...(time + 3))]
    }
}

/// The one counterexample of a history expected to break on one key.
func onlyViolation(_ history: [Operation]) throws -> Counterexample {
    let result = LinearizabilityChecker().check(history)
    #expect(!result.isLinearizable)
    #expect(result.undecidedKeys.isEmpty)
    try #require(result.violations.count == 1, "\(result)")
    return result.violations[0]
}

func isLinearizable(_ history: [Operation]) -> Bool {
    LinearizabilityChecker().check(history).isLinearizable
}

@Suite struct HandWrittenHistoryTests {
    @Test func emptyHistoryIsLinearizable() {
        #expect(isLinearizable([]))
    }

    @Test func sequentialHistoryIsLinearizable() {
        #expect(isLinearizable([get(nil, 0...1), set("a", 2...3), get("a", 4...5), set("b", 6...7), get("b", 8...9)]))
    }

    @Test func concurrentOperationsMayTakeEffectInEitherOrder() {
        // b is written after a although it was invoked first: both overlap.
        let history = [
            set("b", 0...10, client: 0),
            set("a", 2...4, client: 1),
            get("a", 3...5, client: 2),
            get("b", 11...12, client: 2),
        ]
        #expect(isLinearizable(history))
        // A read inside a write may see the old or the new value, and a later read then the new one.
        let reads = [get("a", 3...4), get("b", 5...6), get("b", 11...12)]
        #expect(isLinearizable([set("a", 0...1), set("b", 2...10)] + reads))
    }

    @Test func operationsThatTouchAtAnInstantCountAsConcurrent() {
        #expect(isLinearizable([set("a", 0...5), get(nil, 5...6)]))
        #expect(!isLinearizable([set("a", 0...5), get(nil, 6...7)]))
    }

    @Test func staleReadAfterTheNewValueWasSeenIsAViolation() throws {
        // b is still being written, but once a reader saw it, a later reader may not see a.
        let stale = get("a", 6...7, client: 3)
        let counterexample = try onlyViolation([set("a", 0...1), set("b", 2...10), get("b", 3...4), stale])
        #expect(counterexample.key == "x")
        #expect(counterexample.blocked == stale)
        #expect(counterexample.registerValue == "b")
    }

    @Test func readOfAValueNeverWrittenIsAViolation() throws {
        let phantom = get("zzz", 2...3)
        let counterexample = try onlyViolation([set("a", 0...1), phantom, set("zz", 4...5)])
        #expect(counterexample.blocked == phantom)
    }

    @Test func readOfAnOverwrittenValueAfterTheOverwriteCompletedIsAViolation() throws {
        let read = get("a", 6...7)
        let counterexample = try onlyViolation([set("a", 0...1), get("a", 2...3), set("b", 4...5), read])
        // The smallest window that fails: the overwrite and the read, whatever came before.
        #expect(counterexample.windowStart == 4)
        #expect(counterexample.windowCount == 2)
        #expect(counterexample.blocked == read)
        #expect(counterexample.linearizedTail == [set("b", 4...5)])
        #expect(counterexample.registerValue == "b")
    }

    @Test func lostWriteIsAViolation() throws {
        // The write was acknowledged, yet a later read finds the key missing.
        let counterexample = try onlyViolation([set("a", 0...1), get(nil, 2...3)])
        #expect(counterexample.blocked == get(nil, 2...3))
        #expect(counterexample.registerValue == "a")
    }

    @Test func readFromTheFutureIsAViolation() throws {
        let counterexample = try onlyViolation([get("a", 0...1), set("a", 2...3)])
        #expect(counterexample.linearizedCount == 0)
        #expect(counterexample.blocked == get("a", 0...1))
    }

    @Test func unknownWriteThatTookEffect() throws {
        #expect(isLinearizable([set("a", 0...1), set("b", 2...3, .unknown), get("b", 10...11)]))
        // It may even take effect after the client gave up on it...
        #expect(isLinearizable([set("a", 0...1), set("b", 2...3, .unknown), get("a", 5...6), get("b", 10...11)]))
        // ...which an acknowledged write may not.
        _ = try onlyViolation([set("a", 0...1), set("b", 2...3), get("a", 5...6), get("b", 10...11)])
    }

    @Test func unknownWriteThatDidNotTakeEffect() throws {
        #expect(isLinearizable([set("a", 0...1), set("b", 2...3, .unknown), get("a", 10...11), get("a", 12...13)]))
        #expect(isLinearizable([set("b", 2...3, .unknown), get(nil, 10...11)]))
        // Whether or not it took effect, it cannot have done so before it was invoked.
        _ = try onlyViolation([get("b", 0...1), set("b", 2...3, .unknown)])
        // Nor can it take effect twice.
        _ = try onlyViolation([set("b", 0...1, .unknown), get("b", 2...3), set("a", 4...5), get("b", 6...7)])
    }

    @Test func failedOperationsNeverTakeEffect() throws {
        #expect(isLinearizable([set("a", 0...1), set("b", 2...3, .failed), get("a", 4...5)]))
        _ = try onlyViolation([set("a", 0...1), set("b", 2...3, .failed), get("b", 4...5)])
        _ = try onlyViolation([set("a", 0...1), del(2...3, .failed), get(nil, 4...5)])
    }

    @Test func readsWithoutAnAnswerAreIgnored() {
        let unanswered = Operation(client: 1, key: "x", kind: .read, invocation: 2, response: 3, outcome: .unknown)
        let failed = Operation(client: 1, key: "x", kind: .read, invocation: 4, response: 5, outcome: .failed)
        #expect(isLinearizable([set("a", 0...1), unanswered, failed, get("a", 6...7)]))
    }

    @Test func deleteIsAWriteOfNil() throws {
        #expect(isLinearizable([del(0...1), get(nil, 2...3), set("a", 4...5), del(6...7), get(nil, 8...9)]))
        _ = try onlyViolation([set("a", 0...1), del(2...3), get("a", 4...5)])
        // A delete of unknown outcome may take effect late, but once its effect was seen the old
        // value cannot come back.
        #expect(isLinearizable([set("a", 0...1), del(2...3, .unknown), get("a", 4...5), get(nil, 6...7)]))
        _ = try onlyViolation([set("a", 0...1), del(2...3, .unknown), get(nil, 4...5), get("a", 6...7)])
    }

    @Test func keysAreCheckedIndependently() throws {
        let history = [
            set("a", 0...1, key: "x"),
            set("a", 0...1, key: "y"),
            set("b", 2...3, key: "y"),
            get("a", 4...5, key: "x"),
            get("a", 4...5, key: "y"),
            // A value written to x says nothing about y.
            get("c", 6...7, key: "z"),
            set("c", 0...1, key: "w"),
        ]
        let result = LinearizabilityChecker().check(history)
        #expect(Set(result.violations.map(\.key)) == ["y", "z"])
        #expect(result.keyCount == 4)
    }

    @Test func counterexampleReadsWell() throws {
        let counterexample = try onlyViolation([
            set("a", 0...1, client: 4), set("b", 2...3, client: 5),
            set("c", 4...9, client: 6), get("a", 5...6, client: 7),
        ])
        #expect(counterexample.windowStart == 2)
        #expect(counterexample.linearizedTail.map(\.client) == [5, 6])
        #expect(counterexample.concurrent.map(\.client) == [6])
        let text = counterexample.description
        #expect(text.contains(#"key "x": not linearizable."#))
        #expect(text.contains("the 3 operations running from 2 to 6 cannot be ordered"))
        #expect(text.contains(#"client 5 SET "x" "b" → ok [2, 3]"#))
        #expect(text.contains(#"leaves the register at "c""#))
        #expect(text.contains(#"client 7 GET "x" → "a" [5, 6]"#))
        #expect(text.contains(#"client 6 SET "x" "c" → ok [4, 9]"#))
        let failing = LinearizabilityChecker().check([set("a", 0...1), get(nil, 2...3)])
        #expect(failing.description.contains("not linearizable"))
        let passing = LinearizabilityChecker().check([set("a", 0...1), get("a", 2...3)])
        #expect(passing.description.hasPrefix("linearizable\n2 operations on 1 key(s)"))
    }

    @Test func valuesPrintReadably() {
        #expect(BinaryString("plain").description == #""plain""#)
        #expect(BinaryString([0, 255, 10]).description == "0x00ff0a")
        let long = BinaryString(String(repeating: "v", count: 100))
        #expect(long.description == "\"\(String(repeating: "v", count: 24))\"… (100 bytes)")
    }

    @Test func exhaustedBudgetLeavesTheKeyUndecided() {
        let history = setThenGet(50)
        #expect(LinearizabilityChecker().check(history).isLinearizable)
        let limited = LinearizabilityChecker(maximumStatesPerKey: 10).check(history)
        #expect(!limited.isLinearizable)
        #expect(limited.violations.isEmpty)
        #expect(limited.undecidedKeys == ["x"])
    }
}
