import Testing

@testable import InfiniProxy

@Suite struct ByteBudgetTests {
    /// Records the reservations that went through.
    private actor Admissions {
        private(set) var order: [Int] = []
        func admitted(_ bytes: Int) { order.append(bytes) }
    }

    /// Waits until `condition` holds, failing after a few seconds.
    private static func eventually(_ what: Comment, _ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), what)
    }

    @Test func reservationsThatFitAreTakenAtOnceAndOthersWaitForARelease() async throws {
        let budget = ByteBudget(capacity: 100)
        try await budget.reserve(60)
        try await budget.reserve(40)
        #expect(budget.reservedBytes == 100)
        let admissions = Admissions()
        let waiter = Task {
            try await budget.reserve(30)
            await admissions.admitted(30)
        }
        try await Self.eventually("the reservation never waited") { budget.waitCount == 1 }
        budget.release(20)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await admissions.order.isEmpty, "30 bytes were let in with 20 free")
        budget.release(10)
        try await waiter.value
        #expect(await admissions.order == [30])
        #expect(budget.reservedBytes == 100)
        #expect(budget.peakBytes == 100)
    }

    @Test func aWaitingReservationIsNotPassedByLaterOnesThatWouldFit() async throws {
        let budget = ByteBudget(capacity: 100)
        try await budget.reserve(90)
        let large = Task { try await budget.reserve(80) }
        try await Self.eventually("the large reservation never waited") { budget.waitCount == 1 }
        // Fits beside the 90, but queues behind the large one rather than starve it.
        let small = Task { try await budget.reserve(5) }
        try await Self.eventually("the small reservation never waited") { budget.waitCount == 2 }
        #expect(budget.reservedBytes == 90)
        budget.release(90)
        try await large.value
        try await small.value
        #expect(budget.reservedBytes == 85)
    }

    @Test func anEmptyBudgetLetsInMoreThanItsCapacity() async throws {
        let budget = ByteBudget(capacity: 10)
        try await budget.reserve(1000)
        #expect(budget.reservedBytes == 1000)
        budget.take(5)
        #expect(budget.reservedBytes == 1005)
        budget.release(1005)
        #expect(budget.reservedBytes == 0)
        #expect(budget.waitCount == 0)
    }

    @Test func aCancelledWaitTakesNothingAndLetsTheNextWaiterIn() async throws {
        let budget = ByteBudget(capacity: 100)
        try await budget.reserve(60)
        let cancelled = Task { try await budget.reserve(70) }
        try await Self.eventually("the first reservation never waited") { budget.waitCount == 1 }
        let next = Task { try await budget.reserve(40) }
        try await Self.eventually("the second reservation never waited") { budget.waitCount == 2 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        try await next.value
        #expect(budget.reservedBytes == 100)
    }
}
