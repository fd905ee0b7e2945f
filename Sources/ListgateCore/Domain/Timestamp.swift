// Timestamps as listgate stores and shows them: RFC 3339, UTC, milliseconds.
// One format everywhere means text comparison in SQL orders by time.
import Foundation

public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    public static func string(_ date: Date) -> String {
        date.formatted(style)
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? style.parse(text) { return date }
        // Accept the form without fractional seconds too (e.g. `since=2026-11-21T00:00:00Z`).
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }
}
