import Testing

@testable import InfiniProxy

/// The hedge delay follows the nodes' response times, within its bounds.
@Suite struct HedgeDelayTests {
    @Test func followsResponseTimesWithinItsBounds() {
        let delay = HedgeDelay()
        #expect(delay.current == HedgeDelay.initial)
        for _ in 0..<100 { delay.record(.milliseconds(4)) }
        #expect(delay.current > .microseconds(3900) && delay.current < .milliseconds(5), "steady answers leave little margin")
        delay.record(.milliseconds(40))
        #expect(delay.current > .milliseconds(30), "one slow answer widens it at once")
        for _ in 0..<100 { delay.record(.microseconds(50)) }
        #expect(delay.current == HedgeDelay.minimum)
        for _ in 0..<10 { delay.record(.seconds(30)) }
        #expect(delay.current == HedgeDelay.maximum)
    }
}
