import HistoryChecking
import Testing

/// A history produced by a simulated linearizable store: each operation takes effect at a
/// random instant inside its interval (or, for some operations of unknown outcome, later or
/// never), and reads return what the registers held at that instant.
func simulatedHistory(
    seed: UInt64,
    clients: Int,
    keys: [BinaryString],
    operationsPerClient: Int,
    unknownFraction: Double = 0.1
) -> [Operation] {
    var random = SplitMix64(seed: seed)
    var operations: [Operation] = []
    var effectTimes: [UInt64?] = []
    for client in 0..<clients {
        var time = UInt64.random(in: 0..<20, using: &random)
        for sequence in 0..<operationsPerClient {
            let key = keys[Int.random(in: 0..<keys.count, using: &random)]
            let invocation = time
            var effect: UInt64? = invocation + .random(in: 0...30, using: &random)
            let response = effect! + .random(in: 0...30, using: &random)
            time = response + .random(in: 0...10, using: &random)
            let roll = Double.random(in: 0..<1, using: &random)
            let kind: Operation.Kind =
                roll < 0.45 ? .read : roll < 0.9 ? .write(BinaryString("c\(client)-\(sequence)")) : .delete
            var outcome: Operation.Outcome = kind == .read ? .returned(nil) : .ok
            if Double.random(in: 0..<1, using: &random) < unknownFraction {
                outcome = .unknown
                // Unanswered operations may also take effect after the client gave up, or never.
                switch Int.random(in: 0..<3, using: &random) {
                case 0: effect = response + .random(in: 1...100, using: &random)
                case 1: effect = nil
                default: break
                }
            }
            operations.append(
                Operation(
                    client: client, key: key, kind: kind, invocation: invocation, response: response, outcome: outcome
                )
            )
            effectTimes.append(effect)
        }
    }
    var registers: [BinaryString: BinaryString] = [:]
    let order = operations.indices.filter { effectTimes[$0] != nil }.sorted {
        (effectTimes[$0]!, $0) < (effectTimes[$1]!, $1)
    }
    for index in order {
        let key = operations[index].key
        switch operations[index].kind {
        case .write(let value):
            registers[key] = value
        case .delete:
            registers[key] = nil
        case .read:
            if operations[index].outcome != .unknown { operations[index].outcome = .returned(registers[key]) }
        }
    }
    return operations
}

/// The effective end of an operation for real-time order: unanswered ones never end.
private func end(_ operation: Operation) -> UInt64 {
    operation.outcome == .unknown ? .max : operation.response
}

/// Changes one answered read to return a value it cannot have seen: one overwritten by a
/// completed write before the read began, or one whose write began after the read ended.
/// Returns the changed history and key, or nil when no read allows either.
func mutatedToImpossibleRead(_ history: [Operation], using random: inout SplitMix64) -> ([Operation], BinaryString)? {
    let readIndices = history.indices.filter { history[$0].kind == .read && history[$0].outcome != .unknown }
    for readIndex in readIndices.shuffled(using: &random) {
        let read = history[readIndex]
        let sameKey = history.filter { $0.key == read.key && $0.kind != .read && $0.outcome == .ok }
        // The latest invocation among writes that completed before the read began: every write
        // that completed before that instant was certainly overwritten.
        let overwrittenBefore = sameKey.filter { $0.response < read.invocation }.map(\.invocation).max() ?? 0
        var candidates: [BinaryString] = sameKey.compactMap { write in
            guard case .write(let value) = write.kind, write.response < overwrittenBefore else { return nil }
            return value
        }
        candidates += history.compactMap { write in
            guard write.key == read.key, case .write(let value) = write.kind, write.invocation > end(read) else {
                return nil
            }
            return value
        }
        guard let value = candidates.randomElement(using: &random) else { continue }
        var mutated = history
        mutated[readIndex].outcome = .returned(value)
        return (mutated, read.key)
    }
    return nil
}

@Suite struct RandomHistoryTests {
    static let keys: [BinaryString] = ["k0", "k1", "k2"]

    @Test(arguments: 0..<40)
    func simulatedHistoriesAreLinearizableAndMutantsAreNot(batch: Int) throws {
        var mutants = 0
        for seed in UInt64(batch * 10)..<UInt64(batch * 10 + 10) {
            let history = simulatedHistory(seed: seed, clients: 5, keys: Self.keys, operationsPerClient: 40)
            let result = LinearizabilityChecker().check(history)
            #expect(result.isLinearizable, "seed \(seed): \(result)")
            var random = SplitMix64(seed: ~seed)
            guard let (mutated, key) = mutatedToImpossibleRead(history, using: &random) else { continue }
            mutants += 1
            let mutatedResult = LinearizabilityChecker().check(mutated)
            #expect(mutatedResult.violations.map(\.key) == [key], "seed \(seed): \(mutatedResult)")
            #expect(mutatedResult.undecidedKeys.isEmpty)
        }
        #expect(mutants >= 8)
    }

    @Test func manyUnknownWritesStillCheck() {
        for seed in UInt64(1000)..<1020 {
            let history = simulatedHistory(
                seed: seed, clients: 6, keys: ["k"], operationsPerClient: 30, unknownFraction: 0.3
            )
            let result = LinearizabilityChecker().check(history)
            #expect(result.isLinearizable, "seed \(seed): \(result)")
        }
    }

    /// The work is bounded by states explored, not timed: a few thousand operations of eight
    /// concurrent clients on one key take a few states per operation.
    @Test func longSingleKeyHistoryChecksWithLittleSearch() {
        let history = simulatedHistory(
            seed: 7, clients: 8, keys: ["k"], operationsPerClient: 400, unknownFraction: 0.01
        )
        let result = LinearizabilityChecker().check(history)
        #expect(result.isLinearizable, "\(result)")
        #expect(result.statesExplored < 5 * history.count, "\(result)")
        var random = SplitMix64(seed: 8)
        guard let (mutated, _) = mutatedToImpossibleRead(history, using: &random) else {
            Issue.record("no read to mutate")
            return
        }
        let mutatedResult = LinearizabilityChecker().check(mutated)
        #expect(mutatedResult.violations.count == 1, "\(mutatedResult)")
    }
}
