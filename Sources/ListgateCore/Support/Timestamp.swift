// Timestamps as listgate stores and shows them: RFC 3339, UTC, milliseconds.
// One format everywhere means text comparison in SQL orders by time.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// `2026-11-21T09:30:00.125Z`: whole milliseconds, rounded to the nearest. Written
    /// here rather than by the platform's formatter, which truncates: a date parsed from
    /// `.813` (a double a hair below it) came out as `.812`, so a value answered at once
    /// and the same value read back from the database could differ.
    public static func string(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var whole = time_t(fraction < 0 ? seconds - 1 : seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        var text = ""
        text.reserveCapacity(24)
        func append(_ value: Int, width: Int) {
            let digits = String(value)
            for _ in digits.count..<width { text.append("0") }
            text.append(digits)
        }
        append(Int(parts.tm_year) + 1900, width: 4)
        text.append("-")
        append(Int(parts.tm_mon) + 1, width: 2)
        text.append("-")
        append(Int(parts.tm_mday), width: 2)
        text.append("T")
        append(Int(parts.tm_hour), width: 2)
        text.append(":")
        append(Int(parts.tm_min), width: 2)
        text.append(":")
        append(Int(parts.tm_sec), width: 2)
        text.append(".")
        append(Int(fraction < 0 ? fraction + 1000 : fraction), width: 3)
        text.append("Z")
        return text
    }

    /// The date as it reads back once stored: a whole number of milliseconds. For a value
    /// that is stored and answered at once, so the answer equals what is read back later.
    public static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
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
