// Timestamps as listgate stores and shows them: RFC 3339, UTC, milliseconds.
// One format everywhere means text comparison in SQL orders by time.
import Foundation

public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    public static func string(_ date: Date) -> String {
        date.formatted(style)
    }

    /// An RFC 3339 date-time: a full date, a time with an optional fraction, and `Z` or an
    /// offset (`T` and `Z` may be lowercase, RFC 3339 §5.6). A date alone, or a time
    /// without a zone, is nil, never a guess.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        // Stored timestamps are uppercase already; only a hand-typed one needs the rewrite.
        let text = text.utf8.contains { $0 == UInt8(ascii: "t") || $0 == UInt8(ascii: "z") }
            ? text.replacingOccurrences(of: "t", with: "T").replacingOccurrences(of: "z", with: "Z") : text
        if let date = try? style.parse(text) { return date }
        // Accept the form without fractional seconds too (e.g. `since=2026-11-21T00:00:00Z`).
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }
}
