// A list's soft-bounce policy: a soft bounce (a full mailbox, a server down for a while)
// is a warning, not a verdict; the Nth within D days is (README, "Reporting bounces and
// complaints"). Set with `lists update --soft-bounce-limit N --soft-bounce-days D`.
import Foundation

public struct SoftBouncePolicy: Sendable, Equatable {
    /// The soft bounce that makes a subscription `bounced`: the `limit`-th within `days`.
    public let limit: Int
    public let days: Int

    public static let limits = 1...100
    public static let dayRange = 1...365
    /// 3 in 15 days: three failed weekly issues in a row, or a mailbox full for two weeks.
    public static let standard = SoftBouncePolicy(checkedLimit: 3, days: 15)

    public init(limit: Int, days: Int) throws(DomainError) {
        self.init(checkedLimit: try Self.validLimit(limit), days: try Self.validDays(days))
    }

    public static func validLimit(_ limit: Int) throws(DomainError) -> Int {
        guard limits.contains(limit) else {
            throw .invalidSoftBouncePolicy("--soft-bounce-limit must be \(limits.lowerBound)–\(limits.upperBound), not \(limit)")
        }
        return limit
    }

    public static func validDays(_ days: Int) throws(DomainError) -> Int {
        guard dayRange.contains(days) else {
            throw .invalidSoftBouncePolicy("--soft-bounce-days must be \(dayRange.lowerBound)–\(dayRange.upperBound), not \(days)")
        }
        return days
    }

    /// Values the schema already checked (a stored list's).
    package init(checkedLimit: Int, days: Int) {
        limit = checkedLimit
        self.days = days
    }

    /// The window before a soft bounce at `date` in which the others count.
    public func windowStart(before date: Date) -> Date { date.addingTimeInterval(-Double(days) * 86_400) }
}
