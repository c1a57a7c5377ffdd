@testable import HistoryChecking
import Testing

/// A window searched from an arbitrary value is a weaker check than the whole history, so on
/// linearizable histories every window must pass, or the checker would report false violations.
@Suite struct WindowSearchTests {
    @Test(arguments: 0..<10)
    func everyWindowOfALinearizableHistoryPasses(batch: Int) {
        for seed in UInt64(batch * 3)..<UInt64(batch * 3 + 3) {
            let history = simulatedHistory(
                seed: 5000 + seed, clients: 5, keys: ["k"], operationsPerClient: 30, unknownFraction: 0.15
            )
            let starts = Set(history.map(\.invocation)).sorted()
            for start in stride(from: 0, to: starts.count, by: 3).map({ starts[$0] }) {
                var window = RegisterSearch(history, from: start)
                let verdict = window.run(maximumStates: 100_000)
                #expect(verdict == .linearizable, "seed \(5000 + seed), window from \(start)")
            }
        }
    }

    @Test func aWindowFindsAViolationFarFromTheStart() throws {
        // A long correct prefix, then a stale read.
        let history = setThenGet(200) + [get("v150", 800...801)]
        var window = RegisterSearch(history, from: 796)
        #expect(window.run(maximumStates: 1_000) == .violation)
        let counterexample = try #require(window.counterexample(key: "x"))
        #expect(counterexample.windowStart == 796)
        #expect(counterexample.windowCount == 3)
        #expect(counterexample.blocked == get("v150", 800...801))
        // The checker reports the smallest window: two reads of different values in a row.
        let result = LinearizabilityChecker().check(history)
        let reported = try #require(result.violations.first, "\(result)")
        #expect(reported.windowStart == 798)
        #expect(reported.windowCount == 2)
        #expect(reported.linearizedTail == [get("v199", 798...799)])
    }
}
