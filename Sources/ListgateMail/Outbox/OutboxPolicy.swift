// How hard the worker tries, and how much it allows itself to send.
import Foundation

public struct OutboxPolicy: Sendable {
    /// Messages claimed per database round trip.
    public var batchSize = 20
    /// Messages in flight at once. The transport opens a connection per concurrent
    /// delivery (up to its own limit); each message still has exactly one recipient.
    public var concurrentDeliveries = 4
    /// How long an idle worker waits before looking for due messages again.
    public var pollInterval: Duration = .milliseconds(200)
    /// First retry delay; doubles with each attempt, up to `retryCap`, with jitter.
    public var retryBase: Duration = .seconds(30)
    public var retryCap: Duration = .seconds(3600)
    /// A message older than this is no longer useful (its link has expired): `failed`.
    public var maxAge: Duration = .seconds(48 * 3600)
    /// The mail ceiling: at most this many messages are sent in any minute. Mail beyond
    /// it is held (never paused, never dropped) and goes out at this rate, unsubscribe
    /// links and receipts first. Auto-replies arrive one per form post, so more than
    /// this means an attack or a bug; only an operator's `outbox pause` stops sending.
    public var ceilingPerMinute = 300

    /// How many of the ceiling's messages a minute confirmations may take: all but a
    /// fifth (at least one), which stays free for unsubscribe links and receipts; never
    /// none, so a ceiling of 1 still sends confirmations.
    public var confirmationShare: Int { max(1, ceilingPerMinute - max(1, ceilingPerMinute / 5)) }

    public init() {}

    /// Exponential backoff with "equal jitter": half fixed, half random, so retries
    /// after an outage spread out instead of arriving together.
    public func retryDelay(afterAttempt attempts: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let exponent = min(max(attempts - 1, 0), 30)
        let base = retryBase.seconds * pow(2, Double(exponent))
        let capped = min(base, retryCap.seconds)
        return .milliseconds(Int64((capped / 2 + capped / 2 * random) * 1000))
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
