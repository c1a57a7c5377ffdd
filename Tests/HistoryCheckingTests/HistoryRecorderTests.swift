import HistoryChecking
import Testing

@Suite struct HistoryRecorderTests {
    @Test func recordsOutcomesAndTimes() {
        let recorder = HistoryRecorder()
        let write = recorder.invoke(client: 1, key: "k", kind: .write("v"))
        let read = recorder.invoke(client: 2, key: "k", kind: .read)
        recorder.complete(read, .returned("v"))
        recorder.complete(write, .ok)
        recorder.complete(write, .failed)
        let history = recorder.history()
        #expect(history.map(\.client) == [1, 2])
        #expect(history.map(\.outcome) == [.ok, .returned("v")])
        #expect(history[0].invocation <= history[1].invocation)
        #expect(history[1].invocation <= history[1].response)
        #expect(history[1].response <= history[0].response)
    }

    @Test func operationsInFlightAreUnknown() {
        let recorder = HistoryRecorder()
        _ = recorder.invoke(client: 0, key: "k", kind: .delete)
        let history = recorder.history()
        #expect(history.count == 1)
        #expect(history[0].outcome == .unknown)
        #expect(history[0].response >= history[0].invocation)
    }

    @Test func concurrentClientsKeepInvocationOrder() async {
        let recorder = HistoryRecorder()
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<8 {
                group.addTask {
                    for index in 0..<200 {
                        let value = BinaryString("\(client)-\(index)")
                        let ticket = recorder.invoke(client: client, key: "k", kind: .write(value))
                        recorder.complete(ticket, .ok)
                    }
                }
            }
        }
        let history = recorder.history()
        #expect(history.count == 1600)
        #expect(zip(history, history.dropFirst()).allSatisfy { $0.invocation <= $1.invocation })
        #expect(history.allSatisfy { $0.outcome == .ok && $0.invocation <= $0.response })
        #expect(Set(history.map(\.kind)).count == 1600)
    }
}
