// One POST to one receiver: what the worker claims, what it learns from an attempt, what
// `webhooks deliveries` shows, and the retry schedule (3 days of exponential backoff with
// jitter; README, "Receiving webhooks").
import Foundation

public enum WebhookDeliveryStatus: String, Sendable, Codable, CaseIterable {
    case pending, delivered, failed
}

/// A receiver the worker delivers to, with its secret unsealed (never logged, never shown).
public struct WebhookTarget: Sendable {
    public var id: Int64
    public var publicID: String
    public var url: String
    public var secret: WebhookSecret

    public init(id: Int64, publicID: String, url: String, secret: WebhookSecret) {
        self.id = id
        self.publicID = publicID
        self.url = url
        self.secret = secret
    }
}

/// A delivery the worker has claimed: everything its body is built from.
public struct DueWebhookDelivery: Sendable {
    public var id: Int64
    /// The Standard Webhooks message id (`msg_…`): the same at every attempt, so a receiver
    /// drops a second copy (delivery is at least once).
    public var publicID: String
    public var type: WebhookEventType
    public var listSlug: String
    /// Nil for `forgotten`, and once the person was forgotten.
    public var email: String?
    public var addressHash: String?
    public var occurredAt: String
    /// The event's detail, a flat JSON object as the ledger stores it.
    public var detail: String
    public var attempts: Int
    public var firstDueAt: Date

    public init(
        id: Int64, publicID: String, type: WebhookEventType, listSlug: String, email: String?, addressHash: String?,
        occurredAt: String, detail: String, attempts: Int, firstDueAt: Date
    ) {
        self.id = id
        self.publicID = publicID
        self.type = type
        self.listSlug = listSlug
        self.email = email
        self.addressHash = addressHash
        self.occurredAt = occurredAt
        self.detail = detail
        self.attempts = attempts
        self.firstDueAt = firstDueAt
    }
}

/// What one attempt came to, as the worker records it.
public enum WebhookAttemptOutcome: Sendable, Equatable {
    case delivered(status: Int, at: Date)
    case retry(at: Date, status: Int?, error: String)
    case failed(status: Int?, error: String)
    /// Not attempted (the worker was stopping): due again at once, no attempt counted.
    case released
}

/// A delivery as `webhooks deliveries` shows it: no address, no body.
public struct WebhookDeliveryRecord: Sendable, Equatable {
    public var id: String
    public var webhookID: String
    public var listSlug: String
    public var type: WebhookEventType
    public var status: WebhookDeliveryStatus
    public var attempts: Int
    public var createdAt: Date
    public var nextAttemptAt: Date?
    public var deliveredAt: Date?
    public var lastStatus: Int?
    public var lastError: String?

    public init(
        id: String, webhookID: String, listSlug: String, type: WebhookEventType, status: WebhookDeliveryStatus,
        attempts: Int, createdAt: Date, nextAttemptAt: Date?, deliveredAt: Date?, lastStatus: Int?, lastError: String?
    ) {
        self.id = id
        self.webhookID = webhookID
        self.listSlug = listSlug
        self.type = type
        self.status = status
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
        self.lastStatus = lastStatus
        self.lastError = lastError
    }
}

/// When to try again. The n-th failure waits base·2^(n−1), at most `cap`, scaled by a
/// random factor in [0.75, 1.25) so receivers that failed together are not retried in
/// step; past `giveUpAfter` since the delivery was first due, it is `failed`.
/// Defaults: 30 s, 1 min, 2 min, … 4 h 16 min, then every 6 h: about 20 attempts in 3 days.
public struct WebhookRetryPolicy: Sendable, Equatable {
    public var base: TimeInterval = 30
    public var cap: TimeInterval = 6 * 3600
    public var giveUpAfter: TimeInterval = 3 * 86_400

    public init() {}

    public init(base: TimeInterval, cap: TimeInterval, giveUpAfter: TimeInterval) {
        self.base = base
        self.cap = cap
        self.giveUpAfter = giveUpAfter
    }

    /// The wait after the `attempt`-th failed attempt (1-based); `jitter` in [0, 1).
    public func delay(afterAttempt attempt: Int, jitter: Double) -> TimeInterval {
        let doubling = base * pow(2, Double(min(max(attempt, 1) - 1, 40)))
        return min(doubling, cap) * (0.75 + 0.5 * min(max(jitter, 0), 1))
    }

    /// The outcome of a failed attempt: another try, or `failed` once the next would fall
    /// past the 3 days.
    public func afterFailure(
        attempt: Int, firstDueAt: Date, now: Date, status: Int?, error: String, jitter: Double = Double.random(in: 0..<1)
    ) -> WebhookAttemptOutcome {
        let next = now.addingTimeInterval(delay(afterAttempt: attempt, jitter: jitter))
        if next.timeIntervalSince(firstDueAt) > giveUpAfter {
            return .failed(status: status, error: "gave up after \(attempt) attempts: \(error)")
        }
        return .retry(at: next, status: status, error: error)
    }
}
