/// A UTC instant at one-second resolution, in the two forms Signature Version 4 uses:
/// `20150830T123600Z` (`x-amz-date`) and `20150830` (the credential scope's date).
public struct AWSTimestamp: Sendable, Hashable, Comparable {
    public let secondsSince1970: Int64

    public init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The current wall-clock time.
    public static func now() -> AWSTimestamp {
        AWSTimestamp(secondsSince1970: Environment.currentUnixTime())
    }

    /// Parses the `x-amz-date` form, `YYYYMMDD'T'HHMMSS'Z'`.
    public init?(amzDate: String) {
        let bytes = Array(amzDate.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        let days = Self.daysSince1970(year: year, month: month, day: day)
        self.secondsSince1970 = days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`, the value of `x-amz-date`.
    public var amzDate: String {
        let (days, secondOfDay) = Self.floorDivide(self.secondsSince1970, 86_400)
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        return Self.digits(year, 4) + Self.digits(month, 2) + Self.digits(day, 2) + "T"
            + Self.digits(secondOfDay / 3_600, 2) + Self.digits(secondOfDay / 60 % 60, 2)
            + Self.digits(secondOfDay % 60, 2) + "Z"
    }

    /// `YYYYMMDD`, the date of the credential scope.
    public var dateStamp: String {
        String(self.amzDate.prefix(8))
    }

    public static func < (lhs: AWSTimestamp, rhs: AWSTimestamp) -> Bool {
        lhs.secondsSince1970 < rhs.secondsSince1970
    }

    // Proleptic Gregorian calendar arithmetic on 400-year eras (146,097 days each), counted
    // from 0000-03-01 so that the leap day falls at the end of each year.
    private static let daysFromEraStartTo1970: Int64 = 719_468

    static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let (era, yearOfEra) = Self.floorDivide(marchYear, 400)
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - Self.daysFromEraStartTo1970
    }

    static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (era, dayOfEra) = Self.floorDivide(days + Self.daysFromEraStartTo1970, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = ((value % divisor) + divisor) % divisor
        return ((value - remainder) / divisor, remainder)
    }

    private static func digits(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
