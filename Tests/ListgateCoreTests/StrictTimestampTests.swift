// Specification of the strict RFC 3339 reader (`Timestamp.strictRFC3339`), as tables:
// what it accepts and the instant each names, and what it refuses and why. Expected
// instants are seconds since 1970 worked out independently (`date -u -d … +%s`).
import Foundation
import ListgateCore
import Testing

@Suite("Strict RFC 3339 times")
struct StrictTimestampTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let input: String
        let secondsSince1970: Double
        let why: String
        init(_ input: String, _ secondsSince1970: Double, _ why: String) {
            (self.input, self.secondsSince1970, self.why) = (input, secondsSince1970, why)
        }
        var testDescription: String { "\(why): \(input.debugDescription)" }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let input: String
        let why: String
        init(_ input: String, _ why: String) { (self.input, self.why) = (input, why) }
        var testDescription: String { "\(why): \(input.debugDescription)" }
    }

    static let accepted: [Accepted] = [
        Accepted("2026-11-21T09:30:00Z", 1_795_253_400, "UTC, no fraction"),
        Accepted("2026-11-21T09:30:00.000Z", 1_795_253_400, "what listgate writes"),
        Accepted("2026-11-21T09:30:00.5Z", 1_795_253_400.5, "one fraction digit"),
        Accepted("2026-11-21T09:30:00.123456789Z", 1_795_253_400.123456789, "nine fraction digits"),
        Accepted("2026-11-21t09:30:00z", 1_795_253_400, "lower-case t and z (RFC 3339 §5.6)"),
        Accepted("2026-11-21T18:30:00+09:00", 1_795_253_400, "a positive offset"),
        Accepted("2026-11-21T04:00:00-05:30", 1_795_253_400, "a negative offset with minutes"),
        Accepted("2026-11-21T09:30:00-00:00", 1_795_253_400, "-00:00, offset unknown, is UTC"),
        Accepted("2026-11-22T00:00:00+14:30", 1_795_253_400, "an offset past +14 is still in the grammar"),
        Accepted("1970-01-01T00:00:00Z", 0, "the epoch"),
        Accepted("1969-12-31T23:59:59Z", -1, "before the epoch"),
        Accepted("2024-02-29T00:00:00Z", 1_709_164_800, "29 February in a leap year"),
        Accepted("2000-02-29T00:00:00Z", 951_782_400, "29 February in a year divisible by 400"),
        Accepted("2026-12-31T23:59:59Z", 1_798_761_599, "the last second of a year"),
        Accepted("2016-12-31T23:59:60Z", 1_483_228_800, "a leap second reads as the next day's first instant"),
        Accepted("2017-01-01T08:59:60+09:00", 1_483_228_800, "the same leap second in Tokyo"),
        Accepted("2016-12-31T23:59:60.5Z", 1_483_228_800, "a fraction of a leap second reads the same"),
        Accepted("0001-01-01T00:00:00Z", -62_135_596_800, "year 1"),
        Accepted("9999-12-31T23:59:59Z", 253_402_300_799, "year 9999"),
    ]

    static let refused: [Refused] = [
        Refused("", "empty"),
        Refused("2026-02-30T00:00:00Z", "30 February"),
        Refused("2025-02-29T00:00:00Z", "29 February in a common year"),
        Refused("1900-02-29T00:00:00Z", "29 February in a century year not divisible by 400"),
        Refused("2026-04-31T00:00:00Z", "31 April"),
        Refused("2026-00-10T00:00:00Z", "month 00"),
        Refused("2026-13-10T00:00:00Z", "month 13"),
        Refused("2026-01-00T00:00:00Z", "day 00"),
        Refused("2026-01-32T00:00:00Z", "day 32"),
        Refused("2026-11-21T24:00:00Z", "hour 24"),
        Refused("2026-11-21T09:60:00Z", "minute 60"),
        Refused("2026-11-21T09:30:61Z", "second 61"),
        Refused("2026-11-21T09:30:60Z", "a leap second at a minute that cannot have one"),
        Refused("2016-12-31T23:59:60+09:00", "23:59:60 local time that is not 23:59 UTC"),
        Refused("2026-11-21T09:30:00Zjunk", "trailing junk"),
        Refused("2026-11-21T09:30:00Z ", "a trailing space"),
        Refused(" 2026-11-21T09:30:00Z", "a leading space"),
        Refused("2026-11-21T09:30:00Z\n", "a trailing line break"),
        Refused("2026-11-21T09:30:00", "no offset"),
        Refused("2026-11-21", "a date alone"),
        Refused("2026-11-21 09:30:00Z", "a space instead of T"),
        Refused("2026-11-21_09:30:00Z", "another separator"),
        Refused("2026-11-21T09:30Z", "no seconds"),
        Refused("2026-11-21T09:30:00.Z", "a dot without digits"),
        Refused("2026-11-21T09:30:00,5Z", "a decimal comma"),
        Refused("2026-11-21T09:30:00+0900", "an offset without its colon"),
        Refused("2026-11-21T09:30:00+09", "an offset without minutes"),
        Refused("2026-11-21T09:30:00+24:00", "offset hour 24"),
        Refused("2026-11-21T09:30:00+09:60", "offset minute 60"),
        Refused("2026-11-21T09:30:00UTC", "a zone name"),
        Refused("26-11-21T09:30:00Z", "a two-digit year"),
        Refused("+2026-11-21T09:30:00Z", "a signed year"),
        Refused("2026-1-21T09:30:00Z", "a one-digit month"),
        Refused("2026-11-21T9:30:00Z", "a one-digit hour"),
        Refused("２０２６-11-21T09:30:00Z", "full-width digits"),
        Refused("2026-11-21T09:30:00.\u{0661}Z", "a non-ASCII digit in the fraction"),
        Refused("20261121T093000Z", "the ISO 8601 basic format"),
        Refused("2026-11-21T09:30:00." + String(repeating: "1", count: 60) + "Z", "longer than any real time"),
    ]

    @Test("accepts, with the instant it names", arguments: accepted)
    func accepts(_ example: Accepted) throws {
        let date = try #require(Timestamp.strictRFC3339(example.input))
        #expect(abs(date.timeIntervalSince1970 - example.secondsSince1970) < 0.000_001, "\(date.timeIntervalSince1970)")
    }

    @Test("refuses", arguments: refused)
    func refuses(_ example: Refused) {
        #expect(Timestamp.strictRFC3339(example.input) == nil)
    }

    @Test("reads every time listgate writes as the instant Timestamp.parse reads")
    func agreesWithTimestampParse() throws {
        for seconds in stride(from: -1_000_000_000.0, through: 4_000_000_000, by: 86_399.987) {
            let written = Timestamp.string(Date(timeIntervalSince1970: seconds))
            let strict = try #require(Timestamp.strictRFC3339(written), "\(written)")
            let lenient = try #require(Timestamp.parse(written), "\(written)")
            #expect(abs(strict.timeIntervalSince(lenient)) < 0.000_001, "\(written)")
        }
    }
}
