// Outbound webhooks on PostgreSQL (WebhookStore, WebhookDeliveryStore): receivers with
// their sealed secrets, and the delivery queue the trigger of
// PostgresMigrations/0001_initial.sql fills in each change's transaction, as
// ListgateSQLite's Webhooks/SQLiteStore+Webhooks.swift keeps them. Secrets are sealed by
// ListgateCore's WebhookSecretSeal under the `webhook_secret_key` setting, each bound to its
// webhook's public id.
//
// What differs is the worker's side: several servers may deliver from one database. A
// claim takes due rows with FOR UPDATE SKIP LOCKED in a READ COMMITTED transaction (two
// servers take disjoint rows and never wait for each other), and names its holder
// (`leased_by`, this store's `instance`); the lease is `next_attempt_at` moved forward, as
// on SQLite, so a delivery whose server died is due again when it runs out. Outcomes are
// recorded only by the holder, and a server releases only its own leases and expired ones.
import Crypto
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: WebhookStore {
    public func addWebhook(_ webhook: NewWebhook, secret: WebhookSecret, source: EventSource, at date: Date) async throws
        -> Webhook
    {
        let date = date.stored
        return try await write { connection in
            guard let list = try await connection.row(
                "SELECT id, archived_at FROM lists WHERE slug = \(webhook.list.rawValue)")
            else { throw DomainError.listNotFound(webhook.list.rawValue) }
            guard try list.get("archived_at", as: Date?.self) == nil else { throw DomainError.listArchived(webhook.list.rawValue) }
            let listID = try list.get("id", as: Int64.self)
            let publicID = "wh_" + RandomToken.bytes(8).hexString
            let sealed = try WebhookSecretSeal.seal(secret, webhookID: publicID, key: try await Self.webhookSealKey(on: connection))
            guard let id = try await connection.value("""
                INSERT INTO webhooks (public_id, list_id, url, secret_sealed, created_at)
                VALUES (\(publicID), \(listID), \(webhook.url.rawValue), \(ByteBuffer(bytes: sealed)), \(date))
                RETURNING id
                """, as: Int64.self)
            else { throw StoreError.unreadableValue(column: "webhooks.id", "an added webhook returned no id") }
            let types = webhook.types.sorted()
            for type in types {
                try await connection.execute("INSERT INTO webhook_event_types (webhook_id, type) VALUES (\(id), \(type.rawValue))")
            }
            // The host only: a URL's path or query may carry a receiver's own token.
            try await PostgresLedger.append(
                NewEvent(.webhookAdded, listID: listID, source: source, detail: [
                    "webhook_id": publicID, "host": webhook.url.host, "events": types.map(\.rawValue).joined(separator: ","),
                ]),
                at: date, on: connection)
            return Webhook(
                id: publicID, listSlug: webhook.list.rawValue, url: webhook.url.rawValue, types: types,
                createdAt: date, removedAt: nil, pending: 0, failed: 0)
        }
    }

    public func webhooks() async throws -> [Webhook] {
        try await read { connection in
            try await connection.rows("""
                SELECT w.id, w.public_id, l.slug, w.url, w.created_at, w.removed_at,
                       (SELECT string_agg(type, ',') FROM webhook_event_types t WHERE t.webhook_id = w.id) AS types,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed
                FROM webhooks w JOIN lists l ON l.id = w.list_id ORDER BY w.id
                """).map(Self.webhook)
        }
    }

    public func removeWebhook(id: String, source: EventSource, at date: Date) async throws -> Webhook {
        let date = date.stored
        return try await write { connection in
            guard let row = try await connection.row(
                "SELECT id, list_id, url FROM webhooks WHERE public_id = \(id) AND removed_at IS NULL")
            else { throw WebhookError.unknownWebhook(id) }
            let rowID = try row.get("id", as: Int64.self)
            try await connection.execute("UPDATE webhooks SET removed_at = \(date) WHERE id = \(rowID)")
            // Nothing is sent to a receiver once it is removed; what was waiting stays visible.
            try await connection.execute("""
                UPDATE webhook_deliveries SET status = 'failed', last_error = 'the webhook was removed'
                WHERE webhook_id = \(rowID) AND status = 'pending'
                """)
            let host = (try? WebhookURL(try row.get("url", as: String.self)))?.host ?? ""
            try await PostgresLedger.append(
                NewEvent(.webhookRemoved, listID: try row.get("list_id", as: Int64.self), source: source,
                         detail: ["webhook_id": id, "host": host]),
                at: date, on: connection)
            guard let removed = try await connection.row("""
                SELECT w.id, w.public_id, l.slug, w.url, w.created_at, w.removed_at,
                       (SELECT string_agg(type, ',') FROM webhook_event_types t WHERE t.webhook_id = w.id) AS types,
                       0::bigint AS pending,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed
                FROM webhooks w JOIN lists l ON l.id = w.list_id WHERE w.id = \(rowID)
                """) else { throw WebhookError.unknownWebhook(id) }
            return try Self.webhook(removed)
        }
    }

    public func webhookDeliveries(status: WebhookDeliveryStatus?, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await read { connection in
            try await connection.rows("""
                SELECT d.public_id, w.public_id AS webhook, l.slug, d.type, d.status, d.attempts, d.created_at,
                       d.next_attempt_at, d.delivered_at, d.last_status, d.last_error
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN lists l ON l.id = w.list_id
                WHERE \(status?.rawValue)::text IS NULL OR d.status = \(status?.rawValue)
                ORDER BY d.id DESC LIMIT \(Int64(limit))
                """).map(Self.deliveryRecord)
        }
    }

    public func retryWebhookDelivery(id: String, at date: Date) async throws -> WebhookDeliveryRecord {
        let date = date.stored
        return try await write { connection in
            guard let row = try await connection.row("""
                SELECT d.id, d.status, w.public_id AS webhook, w.removed_at
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.public_id = \(id)
                """)
            else { throw WebhookError.unknownDelivery(id) }
            guard try row.get("removed_at", as: Date?.self) == nil else {
                throw WebhookError.webhookRemoved(try row.get("webhook", as: String.self))
            }
            guard try row.get("status", as: String.self) != WebhookDeliveryStatus.delivered.rawValue else {
                throw WebhookError.alreadyDelivered(id)
            }
            try await connection.execute("""
                UPDATE webhook_deliveries SET status = 'pending', leased = false, leased_by = NULL,
                    first_due_at = \(date), next_attempt_at = \(date)
                WHERE id = \(try row.get("id", as: Int64.self))
                """)
            guard let updated = try await connection.row("""
                SELECT d.public_id, w.public_id AS webhook, l.slug, d.type, d.status, d.attempts, d.created_at,
                       d.next_attempt_at, d.delivered_at, d.last_status, d.last_error
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN lists l ON l.id = w.list_id
                WHERE d.public_id = \(id)
                """) else { throw WebhookError.unknownDelivery(id) }
            return try Self.deliveryRecord(updated)
        }
    }

    // MARK: Rows

    static func webhook(_ row: PostgresRandomAccessRow) throws -> Webhook {
        let types = try ((try row.get("types", as: String?.self)) ?? "").split(separator: ",")
            .map { try webhookType(String($0)) }.sorted()
        return Webhook(
            id: try row.get("public_id"), listSlug: try row.get("slug"), url: try row.get("url"), types: types,
            createdAt: (try row.get("created_at", as: Date.self)).stored,
            removedAt: (try row.get("removed_at", as: Date?.self))?.stored,
            pending: Int(try row.get("pending", as: Int64.self)), failed: Int(try row.get("failed", as: Int64.self)))
    }

    static func deliveryRecord(_ row: PostgresRandomAccessRow) throws -> WebhookDeliveryRecord {
        let status = try row.get("status", as: String.self)
        guard let state = WebhookDeliveryStatus(rawValue: status) else {
            throw StoreError.unreadableValue(column: "webhook_deliveries.status", status)
        }
        return WebhookDeliveryRecord(
            id: try row.get("public_id"), webhookID: try row.get("webhook"), listSlug: try row.get("slug"),
            type: try webhookType(try row.get("type")), status: state,
            attempts: Int(try row.get("attempts", as: Int32.self)),
            createdAt: (try row.get("created_at", as: Date.self)).stored,
            nextAttemptAt: state == .pending ? (try row.get("next_attempt_at", as: Date.self)).stored : nil,
            deliveredAt: (try row.get("delivered_at", as: Date?.self))?.stored,
            lastStatus: (try row.get("last_status", as: Int32?.self)).map(Int.init), lastError: try row.get("last_error"))
    }

    static func webhookType(_ text: String) throws -> WebhookEventType {
        guard let type = WebhookEventType(rawValue: text) else {
            throw StoreError.unreadableValue(column: "webhook_deliveries.type", text)
        }
        return type
    }

    /// The outbound seal's key from the `webhook_secret_key` setting.
    static func webhookSealKey(on connection: PostgresConnection) async throws -> SymmetricKey {
        guard let text = try await connection.value(
            "SELECT value FROM settings WHERE key = \(GeneratedKey.webhookSecretKey.rawValue)", as: String.self)
        else { throw StoreError.needsMigration }
        return WebhookSecretSeal.key(settingValue: text)
    }
}

extension PostgresStore: WebhookDeliveryStore {
    public func activeWebhookTargets() async throws -> [WebhookTarget] {
        try await read { connection in
            let rows = try await connection.rows(
                "SELECT id, public_id, url, secret_sealed FROM webhooks WHERE removed_at IS NULL ORDER BY id")
            guard !rows.isEmpty else { return [] }
            let key = try await Self.webhookSealKey(on: connection)
            return try rows.map { row in
                let publicID = try row.get("public_id", as: String.self)
                let sealed = try row.get("secret_sealed", as: ByteBuffer.self)
                return WebhookTarget(
                    id: try row.get("id"), publicID: publicID, url: try row.get("url"),
                    secret: try WebhookSecretSeal.open(Data(sealed.readableBytesView), webhookID: publicID, key: key))
            }
        }
    }

    public func claimWebhookDeliveries(webhookID: Int64, now: Date, leaseUntil: Date, limit: Int) async throws
        -> [DueWebhookDelivery]
    {
        let instance = instance
        // READ COMMITTED with SKIP LOCKED: each server takes rows no other is taking, and
        // neither waits nor retries; a row another server claimed a moment ago is no longer
        // due (its next_attempt_at is that claim's lease end) once its claim commits.
        return try await readCommitted { connection in
            let rows = try await connection.rows("""
                UPDATE webhook_deliveries SET next_attempt_at = \(leaseUntil.stored), leased = true, leased_by = \(instance)
                WHERE id IN (SELECT id FROM webhook_deliveries
                             WHERE webhook_id = \(webhookID) AND status = 'pending' AND next_attempt_at <= \(now.stored)
                             ORDER BY next_attempt_at, id LIMIT \(Int64(limit))
                             FOR UPDATE SKIP LOCKED)
                RETURNING id, public_id, type, email, address_hash, attempts, first_due_at, event_id
                """)
            guard !rows.isEmpty else { return [] }
            let slug = try await connection.value("""
                SELECT l.slug FROM webhooks w JOIN lists l ON l.id = w.list_id WHERE w.id = \(webhookID)
                """, as: String.self) ?? ""
            var events: [Int64: (occurredAt: String, detail: String)] = [:]
            let eventIDs = try rows.map { try $0.get("event_id", as: Int64.self) }
            for event in try await connection.rows(
                "SELECT id, occurred_at, detail FROM events WHERE id = ANY(\(eventIDs)::bigint[])")
            {
                events[try event.get("id")] = (
                    Timestamp.string(try event.get("occurred_at", as: Date.self)), try event.get("detail", as: String.self))
            }
            return try rows.map { row in
                let event = events[try row.get("event_id", as: Int64.self)]
                return DueWebhookDelivery(
                    id: try row.get("id"), publicID: try row.get("public_id"), type: try Self.webhookType(try row.get("type")),
                    listSlug: slug, email: try row.get("email"), addressHash: try row.get("address_hash"),
                    occurredAt: event?.occurredAt ?? "", detail: event?.detail ?? "{}",
                    attempts: Int(try row.get("attempts", as: Int32.self)),
                    firstDueAt: (try row.get("first_due_at", as: Date.self)).stored)
            }.sorted { $0.id < $1.id }
        }
    }

    public func recordWebhookAttempts(_ outcomes: [(id: Int64, outcome: WebhookAttemptOutcome)]) async throws {
        guard !outcomes.isEmpty else { return }
        let instance = instance
        let outcomes = outcomes.map { ($0.id, $0.outcome) }
        // Only the holder records: a server whose lease ran out and was taken over by
        // another must not overwrite the new holder's outcome.
        try await write { connection in
            let now = Date().stored
            for (id, outcome) in outcomes {
                switch outcome {
                case .delivered(let status, let at):
                    try await connection.execute("""
                        UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, leased = false,
                            leased_by = NULL, delivered_at = \(at.stored), last_status = \(Int32(clamping: status)),
                            last_error = NULL
                        WHERE id = \(id) AND status = 'pending' AND leased_by = \(instance)
                        """)
                case .retry(let at, let status, let error):
                    try await connection.execute("""
                        UPDATE webhook_deliveries SET attempts = attempts + 1, leased = false, leased_by = NULL,
                            next_attempt_at = \(at.stored), last_status = \(status.map { Int32(clamping: $0) }),
                            last_error = \(String(error.prefix(500)))
                        WHERE id = \(id) AND status = 'pending' AND leased_by = \(instance)
                        """)
                case .failed(let status, let error):
                    try await connection.execute("""
                        UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, leased = false,
                            leased_by = NULL, last_status = \(status.map { Int32(clamping: $0) }),
                            last_error = \(String(error.prefix(500)))
                        WHERE id = \(id) AND status = 'pending' AND leased_by = \(instance)
                        """)
                case .released:
                    try await connection.execute("""
                        UPDATE webhook_deliveries SET leased = false, leased_by = NULL, next_attempt_at = \(now)
                        WHERE id = \(id) AND status = 'pending' AND leased_by = \(instance)
                        """)
                }
            }
        }
    }

    /// Ends this server's leases and those that ran out (their server died): never a live
    /// lease of another server, which is still delivering them.
    public func releaseWebhookLeases() async throws -> Int {
        let instance = instance
        return try await write { connection in
            let now = Date().stored
            return try await connection.rows("""
                UPDATE webhook_deliveries SET next_attempt_at = \(now), leased = false, leased_by = NULL
                WHERE status = 'pending' AND leased
                  AND (leased_by = \(instance) OR leased_by IS NULL OR next_attempt_at <= \(now))
                RETURNING id
                """).count
        }
    }

    public func pendingWebhookDeliveries() async throws -> Int {
        try await read { connection in
            Int(try await connection.value(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'", as: Int64.self) ?? 0)
        }
    }

    /// Deletes the delivered deliveries delivered before `date`; failed and pending ones
    /// stay. Returns how many went.
    public func pruneWebhookDeliveries(deliveredBefore date: Date) async throws -> Int {
        try await write { connection in
            try await connection.rows("""
                DELETE FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < \(date.stored)
                RETURNING id
                """).count
        }
    }
}

/// The two queue writes the trigger cannot make, both for `subscribers forget`, as
/// ListgateSQLite's WebhookQueue: its `forgotten` event names no list (the person leaves
/// every list at once), and erasing a person must reach the deliveries that hold them.
enum PostgresWebhookQueue {
    /// Queues `forgotten` to the webhooks (that want it) of each list the person was on,
    /// with the address hash and never the address.
    static func queueForgotten(
        event: Int64, addressHash: String, lists: Set<Int64>, at date: Date, on connection: PostgresConnection
    ) async throws {
        let date = date.stored
        for list in lists.sorted() {
            try await connection.execute("""
                INSERT INTO webhook_deliveries
                    (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
                SELECT 'msg_' || listgate_random_hex(12), w.id, \(event), 'forgotten', NULL, \(addressHash), \(date), \(date), \(date)
                FROM webhooks w JOIN webhook_event_types t ON t.webhook_id = w.id AND t.type = 'forgotten'
                WHERE w.list_id = \(list) AND w.removed_at IS NULL
                """)
        }
    }

    /// Every delivery that holds the address, whatever its state, keeps only its hash.
    static func eraseAddress(hash: String, on connection: PostgresConnection) async throws {
        try await connection.execute(
            "UPDATE webhook_deliveries SET email = NULL WHERE address_hash = \(hash) AND email IS NOT NULL")
    }
}
