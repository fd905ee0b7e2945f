// RFC 3339 read to the letter, for times a program sends (the unsubscribes feed's `since`):
// `Timestamp.parse` leans on Foundation's ISO 8601 parser, which takes trailing junk and
// rolls 30 February over into March. A cursor that means something else than what was
// sent skips or repeats rows silently, so here anything outside the grammar is nil.
//
//   date-time    = full-date ("T" / "t") full-time
//   full-date    = YYYY "-" MM "-" DD          a real calendar date (leap years included)
//   full-time    = HH ":" MM ":" SS ["." 1*DIGIT] ("Z" / "z" / ("+" / "-") HH ":" MM)
//
// Decisions where RFC 3339 leaves room:
// - The space some applications put between date and time (§5.6, a note) is refused: in a
//   query string a space arrives as "+", the sign of an offset, and nothing listgate
//   writes has one.
// - A leap second (":60", §5.7) is accepted only where one can occur, the last second of
//   a UTC day, and reads as the first instant of the next day: POSIX time, and so `Date`,
//   has no instant for it, and every event before it is still before that instant.
// - Fractions may have any number of digits; `Date` keeps what a Double can.
// - `-00:00` ("offset unknown", §4.3) is UTC, like `Z`.
import Foundation

extension Timestamp {
    /// The instant `text` names if it is exactly an RFC 3339 date-time, else nil.
    public static func strictRFC3339(_ text: String) -> Date? {
        var reader = RFC3339Reader(Array(text.utf8))
        return reader.dateTime()
    }
}

private struct RFC3339Reader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Bounds the work on hostile input: the longest sensible time is ~40 octets.
    private static let maximumLength = 64

    mutating func dateTime() -> Date? {
        guard bytes.count <= Self.maximumLength,
              let year = digits(4), literal("-"), let month = digits(2), literal("-"), let day = digits(2),
              (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day),
              literal("T") || literal("t"),
              let hour = digits(2), literal(":"), let minute = digits(2), literal(":"), let second = digits(2),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var fraction = 0.0
        if literal(".") {
            let start = index
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            fraction = Double("0." + String(decoding: bytes[start..<index], as: UTF8.self)) ?? 0
        }
        guard let offsetMinutes = offset(), index == bytes.count else { return nil }

        let days = Self.daysSinceEpoch(year: year, month: month, day: day)
        // Whole seconds since 1970-01-01T00:00:00Z at the start of the minute named.
        let minuteStart = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60
        if second == 60 {
            // Only the minute 23:59 UTC can end in a leap second; it reads as the first
            // instant after that minute.
            let secondOfDay = ((minuteStart % 86_400) + 86_400) % 86_400
            guard secondOfDay == 86_340 else { return nil }
            return Date(timeIntervalSince1970: Double(minuteStart + 60))
        }
        // Counted from 2001, as Date keeps it: adding the fraction to seconds since 1970
        // rounds 09:30:00.123 to a Double that formats as .122, and a cursor read back
        // would then name an earlier millisecond than the one it was written as.
        let sinceReference = minuteStart + second - Self.referenceDateSince1970
        return Date(timeIntervalSinceReferenceDate: Double(sinceReference) + fraction)
    }

    /// `Z`, `z` or `±HH:MM`, as minutes east of UTC.
    private mutating func offset() -> Int? {
        if literal("Z") || literal("z") { return 0 }
        let sign: Int
        if literal("+") {
            sign = 1
        } else if literal("-") {
            sign = -1
        } else {
            return nil
        }
        guard let hours = digits(2), literal(":"), let minutes = digits(2), hours <= 23, minutes <= 59 else { return nil }
        return sign * (hours * 60 + minutes)
    }

    /// Exactly `count` ASCII digits as a number.
    private mutating func digits(_ count: Int) -> Int? {
        guard index + count <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[index..<(index + count)] {
            guard Self.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        index += count
        return value
    }

    private mutating func literal(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(character.value) else { return false }
        index += 1
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// 2001-01-01T00:00:00Z, Date's reference date, in seconds since 1970.
    private static let referenceDateSince1970 = 978_307_200

    /// Proleptic Gregorian, as RFC 3339 §5.7 says (Appendix C's leap year rule).
    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func isLeap(_ year: Int) -> Bool {
        year.isMultiple(of: 4) && (!year.isMultiple(of: 100) || year.isMultiple(of: 400))
    }

    /// Days from 1970-01-01 to the date (negative before it): H. Hinnant's days_from_civil.
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
