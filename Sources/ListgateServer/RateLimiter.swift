// Per-client-IP limits on form posts (DESIGN.md: 20 a minute by default). In memory:
// a restart forgives everyone, which is fine for a limit meant to slow floods down.
// The per-address limit lives in the database (it must not depend on which process
// answered) and is enforced by the intake without changing the answer.
import Foundation
import Synchronization

/// `LISTGATE_RATE_LIMITS`: `ip=20/min,address=3/day`, or `off`.
public struct RateLimits: Sendable, Equatable {
    public var perIP: Rate?
    public var perAddress: Rate?

    public struct Rate: Sendable, Equatable {
        public var count: Int
        public var seconds: TimeInterval
    }

    public static let defaults = RateLimits(perIP: Rate(count: 20, seconds: 60), perAddress: Rate(count: 3, seconds: 86_400))
    public static let off = RateLimits(perIP: nil, perAddress: nil)

    public init(perIP: Rate?, perAddress: Rate?) {
        self.perIP = perIP
        self.perAddress = perAddress
    }

    public init(parsing text: String) throws(RateLimitsError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "off" { self = .off; return }
        self = .defaults
        for item in trimmed.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw RateLimitsError(text: text) }
            let rate = try Self.rate(pair[1], in: text)
            switch pair[0] {
            case "ip": perIP = rate
            case "address": perAddress = rate
            default: throw RateLimitsError(text: text)
            }
        }
    }

    private static func rate(_ text: String, in whole: String) throws(RateLimitsError) -> Rate? {
        if text == "off" { return nil }
        let parts = text.split(separator: "/")
        let units: [String: TimeInterval] = ["s": 1, "sec": 1, "min": 60, "hour": 3600, "h": 3600, "day": 86_400, "d": 86_400]
        guard parts.count == 2, let count = Int(parts[0]), count > 0, let seconds = units[String(parts[1])] else {
            throw RateLimitsError(text: whole)
        }
        return Rate(count: count, seconds: seconds)
    }
}

public struct RateLimitsError: Error, CustomStringConvertible {
    public let text: String
    public var description: String {
        "invalid LISTGATE_RATE_LIMITS '\(text)': use e.g. ip=20/min,address=3/day (units s, min, hour, day) or off"
    }
}

/// A fixed-window counter per key. Simple and predictable: at most `count` requests
/// per window; the answer to the first refused request says when the window ends.
final class RateLimiter: Sendable {
    private let rate: RateLimits.Rate
    private let state = Mutex<[String: (windowStart: Date, count: Int)]>([:])

    init(rate: RateLimits.Rate) {
        self.rate = rate
    }

    /// nil when allowed; otherwise the seconds until the client may try again.
    func retryAfter(for key: String, now: Date = Date()) -> Int? {
        state.withLock { windows in
            if windows.count > 100_000 { windows = windows.filter { now.timeIntervalSince($0.value.windowStart) < rate.seconds } }
            var window = windows[key] ?? (now, 0)
            if now.timeIntervalSince(window.windowStart) >= rate.seconds { window = (now, 0) }
            window.count += 1
            windows[key] = window
            guard window.count > rate.count else { return nil }
            return max(1, Int((rate.seconds - now.timeIntervalSince(window.windowStart)).rounded(.up)))
        }
    }
}
