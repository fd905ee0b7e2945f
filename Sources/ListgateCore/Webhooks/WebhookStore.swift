// What storage does for outbound webhooks, in two capabilities: the admin's
// (`listgate webhooks …`) and the delivery worker's. Queueing is in neither: a delivery is
// queued by the store itself, in the transaction of the change it reports
// (Migrations/0014_outbound_webhooks.sql).
import Foundation

public protocol WebhookStore: Sendable {
    /// Adds a receiver with its secret (sealed at rest) and a `webhook_added` event.
    func addWebhook(_ webhook: NewWebhook, secret: WebhookSecret, source: EventSource, at date: Date) async throws -> Webhook
    /// Every receiver, the removed ones too, oldest first.
    func webhooks() async throws -> [Webhook]
    /// Stops deliveries to a receiver: its pending ones become `failed`. A `webhook_removed` event.
    func removeWebhook(id: String, source: EventSource, at date: Date) async throws -> Webhook
    /// Newest first.
    func webhookDeliveries(status: WebhookDeliveryStatus?, limit: Int) async throws -> [WebhookDeliveryRecord]
    /// A failed (or still pending) delivery is due again now, with 3 more days of retries.
    func retryWebhookDelivery(id: String, at date: Date) async throws -> WebhookDeliveryRecord
}

/// The delivery worker's capability: it can read receivers' secrets and move deliveries
/// along, and nothing else.
public protocol WebhookDeliveryStore: Sendable {
    /// Receivers not removed, with their secrets unsealed.
    func activeWebhookTargets() async throws -> [WebhookTarget]
    /// Up to `limit` due deliveries of one receiver, oldest first, leased until `leaseUntil`:
    /// a lease that runs out (the process died) makes them due again.
    func claimWebhookDeliveries(webhookID: Int64, now: Date, leaseUntil: Date, limit: Int) async throws
        -> [DueWebhookDelivery]
    /// Each attempt's outcome, in one transaction.
    func recordWebhookAttempts(_ outcomes: [(id: Int64, outcome: WebhookAttemptOutcome)]) async throws
    /// Ends every lease (only one `serve` runs on a database): for the start.
    func releaseWebhookLeases() async throws -> Int
    /// Pending deliveries, for the queue-depth gauge.
    func pendingWebhookDeliveries() async throws -> Int
    /// Deletes the deliveries delivered before `deliveredBefore`; `pending` and `failed`
    /// ones stay, whatever their age (an admin may still retry a failed one). How many went.
    func pruneWebhookDeliveries(deliveredBefore: Date) async throws -> Int
}

/// Adding a receiver: the secret is made here, handed to the store to seal, and returned
/// once for the admin to copy; it is never shown again.
public struct WebhookRegistry: Sendable {
    let store: any WebhookStore

    public init(store: any WebhookStore) { self.store = store }

    public func add(url: String, list: ListSlug, types: [String], source: EventSource, at date: Date = Date())
        async throws -> (webhook: Webhook, secret: WebhookSecret)
    {
        let url = try WebhookURL(url)
        var kinds = Set<WebhookEventType>()
        for type in types {
            guard let kind = WebhookEventType(rawValue: type.lowercased()) else { throw WebhookError.unknownEventType(type) }
            kinds.insert(kind)
        }
        let secret = WebhookSecret.generate()
        let webhook = try await store.addWebhook(NewWebhook(list: list, url: url, types: kinds), secret: secret, source: source, at: date)
        return (webhook, secret)
    }
}
