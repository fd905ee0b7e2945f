// Per-client limits on form posts (README, Configuration: 20 a minute by default), per IPv4 address
// or IPv6 /64 network, applied by a middleware on the list forms' route group. In memory:
// a restart forgives everyone, which is fine for a limit meant to slow floods down.
// The per-address limit lives in the database (it must not depend on which process
// answered) and is enforced by the intake without changing the answer.
import Foundation
import Hummingbird
import ListgateCore
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

    /// The per-address limit as the intake counts it: confirmation mails a day.
    public var mailsPerAddressPerDay: Int? {
        perAddress.map { Int((Double($0.count) * 86_400 / $0.seconds).rounded(.up)) }
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

/// The per-IP limit on the two list forms' posts (subscribe, unsubscribe-by-address), on
/// the route group that holds them: every post there counts, whichever handler it reaches,
/// and one over the limit is refused before the handler reads anything.
struct FormRateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let limiter: RateLimiter
    let intake: Intake

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let retry = limiter.retryAfter(for: context.clientIP ?? "unknown") else { return try await next(request, context) }
        // In the list's language, as its other pages are (the list cache answers this).
        var locale: ListLocale?
        if let slug = context.parameters.get("slug") { locale = (try? await intake.listIfExists(slug))?.locale }
        throw Problem.tooManyRequests(retryAfter: retry).inLocale(locale)
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

    /// nil when allowed; otherwise the seconds until the client may try again. `client` is
    /// the client's IP address as text; it counts under its `ClientNetwork` key.
    func retryAfter(for client: String, now: Date = Date()) -> Int? {
        let key = ClientNetwork.key(for: client)
        return state.withLock { windows in
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

/// Whom a per-IP limit counts: an IPv4 address by itself; an IPv6 address by its /64
/// network, because a host or a subscriber line is usually given a whole /64 and can take
/// any address in it for each request; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how
/// a dual-stack socket shows IPv4 clients) as the IPv4 address it is. Text that is not an
/// address counts as itself.
enum ClientNetwork {
    static func key(for address: String) -> String {
        // A zone (`fe80::1%eth0`) names the interface, not the client.
        let text = String(address.prefix { $0 != "%" })
        var ipv4 = in_addr()
        if inet_pton(AF_INET, text, &ipv4) == 1 { return text }
        var ipv6 = in6_addr()
        guard inet_pton(AF_INET6, text, &ipv6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: &ipv6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}
