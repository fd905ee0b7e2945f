// Specification of how listgate writes times (`Timestamp.string`): RFC 3339 in UTC with
// milliseconds, and a time read back from its own text writes that same text again.
import Foundation
import ListgateCore
import Testing

@Suite("Stored times")
struct TimestampTests {
    @Test("times are written in UTC with three fraction digits, as `date -u` names them", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_763_717_400.125, "2025-11-21T09:30:00.125Z"),
        (951_782_400.999, "2000-02-29T00:00:00.999Z"),
        (-0.5, "1969-12-31T23:59:59.500Z"),
    ])
    func format(_ seconds: Double, _ expected: String) {
        #expect(Timestamp.string(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test("a time read back from its text writes the same text (20,000 times around now)")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let date = Date().addingTimeInterval(Double.random(in: -1e6...1e6, using: &generator))
            let text = Timestamp.string(date)
            let read = try #require(Timestamp.parse(text))
            #expect(Timestamp.string(read) == text)
            #expect(Timestamp.string(Timestamp.truncated(date)) == text)
            #expect(abs(read.timeIntervalSince(date)) <= 0.0005 + 1e-6, "the nearest millisecond")
        }
    }
}
