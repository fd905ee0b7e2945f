// Outbound webhooks on SQLite: receivers with their sealed secrets, and the delivery queue
// the trigger of Migrations/0014_outbound_webhooks.sql fills in each change's transaction.
// Secrets are sealed with AES-GCM under the `webhook_secret_key` setting, each bound to its
// webhook's public id (docs/security.md, "Webhook secrets", says what that protects).
import Crypto
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func addWebhook(_ webhook: NewWebhook, secret: WebhookSecret, source: EventSource, at date: Date) async throws
        -> Webhook
    {
        try await pool.write { db in
            let listID = try Self.requireOpenListID(webhook.list, in: db)
            let publicID = "wh_" + RandomToken.bytes(8).hexString
            let sealed = try WebhookSecretSeal.seal(secret, webhookID: publicID, in: db)
            let stamp = Timestamp.string(date)
            try db.cachedStatement(sql: """
                INSERT INTO webhooks (public_id, list_id, url, secret_sealed, created_at) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [publicID, listID, webhook.url.rawValue, sealed, stamp])
            let id = db.lastInsertedRowID
            let types = webhook.types.sorted()
            for type in types {
                try db.cachedStatement(sql: "INSERT INTO webhook_event_types (webhook_id, type) VALUES (?, ?)")
                    .execute(arguments: [id, type.rawValue])
            }
            // The host only: a URL's path or query may carry a receiver's own token.
            try EventLedger.append(
                NewEvent(.webhookAdded, listID: listID, source: source, detail: [
                    "webhook_id": publicID, "host": webhook.url.host, "events": types.map(\.rawValue).joined(separator: ","),
                ]),
                at: date, in: db)
            return Webhook(
                id: publicID, listSlug: webhook.list.rawValue, url: webhook.url.rawValue, types: types,
                createdAt: Timestamp.truncated(date), removedAt: nil, pending: 0, failed: 0)
        }
    }

    public func webhooks() async throws -> [Webhook] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT w.id, w.public_id, l.slug, w.url, w.created_at, w.removed_at,
                       (SELECT group_concat(type) FROM webhook_event_types t WHERE t.webhook_id = w.id) AS types,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed
                FROM webhooks w JOIN lists l ON l.id = w.list_id ORDER BY w.id
                """)).map(Self.webhook)
        }
    }

    public func removeWebhook(id: String, source: EventSource, at date: Date) async throws -> Webhook {
        try await pool.write { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, list_id, url FROM webhooks WHERE public_id = ? AND removed_at IS NULL"),
                arguments: [id])
            else { throw WebhookError.unknownWebhook(id) }
            let rowID: Int64 = row["id"]
            let stamp = Timestamp.string(date)
            try db.cachedStatement(sql: "UPDATE webhooks SET removed_at = ? WHERE id = ?").execute(arguments: [stamp, rowID])
            // Nothing is sent to a receiver once it is removed; what was waiting stays visible.
            try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET status = 'failed', last_error = 'the webhook was removed'
                WHERE webhook_id = ? AND status = 'pending'
                """).execute(arguments: [rowID])
            let host = (try? WebhookURL(row["url"]))?.host ?? ""
            try EventLedger.append(
                NewEvent(.webhookRemoved, listID: row["list_id"], source: source, detail: ["webhook_id": id, "host": host]),
                at: date, in: db)
            guard let removed = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT w.id, w.public_id, l.slug, w.url, w.created_at, w.removed_at,
                       (SELECT group_concat(type) FROM webhook_event_types t WHERE t.webhook_id = w.id) AS types,
                       0 AS pending,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed
                FROM webhooks w JOIN lists l ON l.id = w.list_id WHERE w.id = ?
                """), arguments: [rowID]) else { throw WebhookError.unknownWebhook(id) }
            return try Self.webhook(removed)
        }
    }

    public func webhookDeliveries(status: WebhookDeliveryStatus?, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT d.public_id, w.public_id AS webhook, l.slug, d.type, d.status, d.attempts, d.created_at,
                       d.next_attempt_at, d.delivered_at, d.last_status, d.last_error
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN lists l ON l.id = w.list_id
                WHERE ?1 IS NULL OR d.status = ?1
                ORDER BY d.id DESC LIMIT ?2
                """), arguments: [status?.rawValue, limit]).map(Self.deliveryRecord)
        }
    }

    public func retryWebhookDelivery(id: String, at date: Date) async throws -> WebhookDeliveryRecord {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT d.id, d.status, w.public_id AS webhook, w.removed_at
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.public_id = ?
                """), arguments: [id])
            else { throw WebhookError.unknownDelivery(id) }
            guard (row["removed_at"] as String?) == nil else { throw WebhookError.webhookRemoved(row["webhook"]) }
            guard (row["status"] as String) != WebhookDeliveryStatus.delivered.rawValue else {
                throw WebhookError.alreadyDelivered(id)
            }
            let stamp = Timestamp.string(date)
            try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET status = 'pending', leased = 0, first_due_at = ?1, next_attempt_at = ?1 WHERE id = ?2
                """).execute(arguments: [stamp, row["id"] as Int64])
            guard let updated = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT d.public_id, w.public_id AS webhook, l.slug, d.type, d.status, d.attempts, d.created_at,
                       d.next_attempt_at, d.delivered_at, d.last_status, d.last_error
                FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN lists l ON l.id = w.list_id
                WHERE d.public_id = ?
                """), arguments: [id]) else { throw WebhookError.unknownDelivery(id) }
            return try Self.deliveryRecord(updated)
        }
    }

    // MARK: The worker's side

    public func activeWebhookTargets() async throws -> [WebhookTarget] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, public_id, url, secret_sealed FROM webhooks WHERE removed_at IS NULL ORDER BY id
                """)).map { row in
                let publicID: String = row["public_id"]
                return WebhookTarget(
                    id: row["id"], publicID: publicID, url: row["url"],
                    secret: try WebhookSecretSeal.open(row["secret_sealed"], webhookID: publicID, in: db))
            }
        }
    }

    public func claimWebhookDeliveries(webhookID: Int64, now: Date, leaseUntil: Date, limit: Int) async throws
        -> [DueWebhookDelivery]
    {
        try await pool.write { db in
            // The lease is `next_attempt_at` moved forward, so a delivery whose worker died is
            // due again when it runs out; `leased` tells the next start which to take at once.
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET next_attempt_at = ?1, leased = 1
                WHERE id IN (SELECT id FROM webhook_deliveries
                             WHERE webhook_id = ?2 AND status = 'pending' AND next_attempt_at <= ?3
                             ORDER BY next_attempt_at, id LIMIT ?4)
                RETURNING id, public_id, type, email, address_hash, attempts, first_due_at, event_id
                """), arguments: [Timestamp.string(leaseUntil), webhookID, Timestamp.string(now), limit])
            guard !rows.isEmpty else { return [] }
            let slug = try String.fetchOne(db.cachedStatement(sql: """
                SELECT l.slug FROM webhooks w JOIN lists l ON l.id = w.list_id WHERE w.id = ?
                """), arguments: [webhookID]) ?? ""
            let eventStatement = try db.cachedStatement(sql: "SELECT occurred_at, detail FROM events WHERE id = ?")
            // Columns by position (by name, each read lower-cases the name, and that showed
            // in the delivery profile); an event read once per batch however many deliveries
            // report it (an `imported` batch, or one change to several lists' webhooks).
            var events: [Int64: (occurredAt: String, detail: String)] = [:]
            return try rows.map { row in
                let eventID: Int64 = row[7]
                let event: (occurredAt: String, detail: String)
                if let known = events[eventID] {
                    event = known
                } else {
                    let fetched = try Row.fetchOne(eventStatement, arguments: [eventID])
                    event = (fetched?[0] ?? "", fetched?[1] ?? "{}")
                    events[eventID] = event
                }
                return DueWebhookDelivery(
                    id: row[0], publicID: row[1], type: try Self.webhookType(row[2]), listSlug: slug,
                    email: row[3], addressHash: row[4], occurredAt: event.occurredAt, detail: event.detail,
                    attempts: row[5], firstDueAt: Self.date(row[6]))
            }.sorted { $0.id < $1.id }
        }
    }

    public func recordWebhookAttempts(_ outcomes: [(id: Int64, outcome: WebhookAttemptOutcome)]) async throws {
        guard !outcomes.isEmpty else { return }
        try await pool.write { db in
            // The delivered ones (nearly a whole batch, all answered at one moment) in one
            // statement per status and moment, over a JSON array of ids: an UPDATE a row
            // showed in the delivery profile.
            let delivered = try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, leased = 0, delivered_at = ?,
                    last_status = ?, last_error = NULL
                WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'
                """)
            let retry = try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET attempts = attempts + 1, leased = 0, next_attempt_at = ?, last_status = ?, last_error = ?
                WHERE id = ? AND status = 'pending'
                """)
            let failed = try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, leased = 0, last_status = ?, last_error = ?
                WHERE id = ? AND status = 'pending'
                """)
            let released = try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET leased = 0, next_attempt_at = ? WHERE id = ? AND status = 'pending'
                """)
            let now = Timestamp.string(Date())
            var deliveredGroups: [DeliveredGroup: [UInt8]] = [:]
            for (id, outcome) in outcomes {
                switch outcome {
                case .delivered(let status, let at):
                    let group = DeliveredGroup(status: status, at: at)
                    var ids = deliveredGroups.removeValue(forKey: group) ?? [UInt8(ascii: "[")]
                    if ids.count > 1 { ids.append(UInt8(ascii: ",")) }
                    ids.append(contentsOf: String(id).utf8)
                    deliveredGroups[group] = ids
                case .retry(let at, let status, let error):
                    try retry.execute(arguments: [Timestamp.string(at), status, String(error.prefix(500)), id])
                case .failed(let status, let error):
                    try failed.execute(arguments: [status, String(error.prefix(500)), id])
                case .released:
                    try released.execute(arguments: [now, id])
                }
            }
            for (group, ids) in deliveredGroups {
                try delivered.execute(arguments: [
                    Timestamp.string(group.at), group.status, String(decoding: ids + [UInt8(ascii: "]")], as: UTF8.self),
                ])
            }
        }
    }

    private struct DeliveredGroup: Hashable {
        var status: Int
        var at: Date
    }

    public func releaseWebhookLeases() async throws -> Int {
        try await pool.write { db in
            let now = Timestamp.string(Date())
            try db.cachedStatement(sql: """
                UPDATE webhook_deliveries SET next_attempt_at = ?, leased = 0 WHERE status = 'pending' AND leased = 1
                """).execute(arguments: [now])
            return db.changesCount
        }
    }

    public func pendingWebhookDeliveries() async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")) ?? 0
        }
    }

    public func pruneWebhookDeliveries(deliveredBefore: Date) async throws -> Int {
        // In slices of a few thousand rows, each its own short transaction, so a first
        // pruning of months of deliveries never holds the writer from the worker or a
        // subscriber for long. No index on `delivered_at`: an hourly scan of the table is
        // cheaper than one more index updated by every delivery.
        let cutoff = Timestamp.string(deliveredBefore)
        var total = 0
        while true {
            let deleted = try await pool.write { db in
                try db.cachedStatement(sql: """
                    DELETE FROM webhook_deliveries WHERE id IN (
                        SELECT id FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < ? LIMIT 5000)
                    """).execute(arguments: [cutoff])
                return db.changesCount
            }
            total += deleted
            if deleted < 5000 { return total }
        }
    }

    // MARK: Rows

    static func webhook(_ row: Row) throws -> Webhook {
        let types = try ((row["types"] as String?) ?? "").split(separator: ",").map { try webhookType(String($0)) }.sorted()
        return Webhook(
            id: row["public_id"], listSlug: row["slug"], url: row["url"], types: types, createdAt: date(row["created_at"]),
            removedAt: (row["removed_at"] as String?).map(date), pending: row["pending"], failed: row["failed"])
    }

    static func deliveryRecord(_ row: Row) throws -> WebhookDeliveryRecord {
        let status: String = row["status"]
        guard let state = WebhookDeliveryStatus(rawValue: status) else {
            throw StoreError.unreadableValue(column: "webhook_deliveries.status", status)
        }
        return WebhookDeliveryRecord(
            id: row["public_id"], webhookID: row["webhook"], listSlug: row["slug"], type: try webhookType(row["type"]),
            status: state, attempts: row["attempts"], createdAt: date(row["created_at"]),
            nextAttemptAt: state == .pending ? date(row["next_attempt_at"]) : nil,
            deliveredAt: (row["delivered_at"] as String?).map(date), lastStatus: row["last_status"], lastError: row["last_error"])
    }

    static func webhookType(_ text: String) throws -> WebhookEventType {
        guard let type = WebhookEventType(rawValue: text) else {
            throw StoreError.unreadableValue(column: "webhook_deliveries.type", text)
        }
        return type
    }
}

/// The outbound seal with its key read from the database (ListgateCore's WebhookSecretSeal
/// seals and opens, the same for every store).
extension WebhookSecretSeal {
    static func seal(_ secret: WebhookSecret, webhookID: String, in db: Database) throws -> Data {
        try seal(secret, webhookID: webhookID, key: key(in: db))
    }

    static func open(_ sealed: Data, webhookID: String, in db: Database) throws -> WebhookSecret {
        try open(sealed, webhookID: webhookID, key: key(in: db))
    }

    static func key(in db: Database) throws -> SymmetricKey {
        guard let text = try String.fetchOne(
            db.cachedStatement(sql: "SELECT value FROM settings WHERE key = ?"), arguments: [GeneratedKey.webhookSecretKey.rawValue])
        else { throw StoreError.needsMigration }
        return key(settingValue: text)
    }
}
