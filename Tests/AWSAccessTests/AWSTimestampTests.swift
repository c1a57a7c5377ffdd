import AWSAccess
import Testing

@Suite struct AWSTimestampTests {
    @Test(arguments: [
        (Int64(1_440_938_160), "20150830T123600Z"),
        (1_369_353_600, "20130524T000000Z"),
        (951_868_799, "20000229T235959Z"),
        (0, "19700101T000000Z"),
        (-1, "19691231T235959Z"),
        (4_107_542_400, "21000301T000000Z"),
    ])
    func formatsAndParses(_ seconds: Int64, _ text: String) {
        let time = AWSTimestamp(secondsSince1970: seconds)
        #expect(time.amzDate == text)
        #expect(time.dateStamp == String(text.prefix(8)))
        #expect(AWSTimestamp(amzDate: text) == time)
    }

    @Test(arguments: ["", "20150830T123600", "20150830 123600Z", "2015083OT123600Z", "20151330T000000Z", "20150830T246000Z", "+0150830T123600Z"])
    func refusesMalformedDates(_ text: String) {
        #expect(AWSTimestamp(amzDate: text) == nil)
    }

    @Test func nowIsAfterThisCodeWasWritten() {
        #expect(AWSTimestamp.now() > AWSTimestamp(amzDate: "20260101T000000Z")!)
    }
}
