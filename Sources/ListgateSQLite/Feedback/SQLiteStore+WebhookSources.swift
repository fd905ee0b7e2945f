// Provider webhook sources (Migrations/0013_inbound_webhooks.sql): one per provider and
// list, each change a ledger event that names the provider and the id and never a
// secret. Mailgun's signing key is sealed with AES-GCM under the `webhook_secret_key`
// setting; Postmark's password is kept as a salted hash (docs/security.md).
import Crypto
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func addWebhookSource(list slug: ListSlug, setting: WebhookSourceSetting, source: EventSource) async throws
        -> WebhookSource
    {
        try await pool.write { db in
            guard let listID = try Int64.fetchOne(db, sql: "SELECT id FROM lists WHERE slug = ?", arguments: [slug.rawValue]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            let provider = setting.provider
            if let existing = try String.fetchOne(
                db, sql: "SELECT public_id FROM webhook_sources WHERE list_id = ? AND provider = ?",
                arguments: [listID, provider.rawValue])
            {
                throw WebhookSourceError.duplicate(provider: provider, list: slug.rawValue, id: existing)
            }
            let id = "wh_" + RandomToken.hex(bytes: 8)
            let now = Date()
            var topicARN: String?, publicKey: String?, sealedKey: String?, username: String?, hash: WebhookPasswordHash?
            switch setting {
            case .ses(let topic): topicARN = topic
            case .sendgrid(let key): publicKey = key
            case .mailgun(let key): sealedKey = try ProviderSecretSeal.seal(key, rowID: id, key: ProviderSecretSeal.key(in: db, creating: true))
            case .postmark(let user, let password): (username, hash) = (user, WebhookPasswordHash.make(password))
            }
            try db.execute(
                sql: """
                    INSERT INTO webhook_sources (public_id, list_id, provider, ses_topic_arn, sendgrid_public_key,
                        mailgun_key_sealed, postmark_username, postmark_salt, postmark_sha256, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, listID, provider.rawValue, topicARN, publicKey, sealedKey, username, hash?.salt, hash?.sha256,
                            Timestamp.string(now)])
            try EventLedger.append(
                NewEvent(.webhookSourceAdded, listID: listID, source: source, detail: ["provider": provider.rawValue, "id": id]),
                at: now, in: db)
            return WebhookSource(
                id: id, provider: provider, listSlug: slug.rawValue, createdAt: now, topicARN: topicARN, username: username)
        }
    }

    public func webhookSources() async throws -> [WebhookSource] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT w.public_id, w.provider, l.slug, w.created_at, w.ses_topic_arn, w.postmark_username
                FROM webhook_sources w JOIN lists l ON l.id = w.list_id ORDER BY l.slug, w.provider
                """
            ).map { row in
                WebhookSource(
                    id: row["public_id"], provider: try Self.provider(row["provider"]), listSlug: row["slug"],
                    createdAt: try Self.time(row["created_at"]), topicARN: row["ses_topic_arn"], username: row["postmark_username"])
            }
        }
    }

    public func removeWebhookSource(id: String, source: EventSource) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT id, list_id, provider FROM webhook_sources WHERE public_id = ?", arguments: [id])
            else { throw WebhookSourceError.unknown(id) }
            let rowID: Int64 = row["id"], listID: Int64 = row["list_id"], provider: String = row["provider"]
            // The secrets go with the row; its nonces by cascade.
            try db.execute(sql: "DELETE FROM webhook_nonces WHERE source_id = ?", arguments: [rowID])
            try db.execute(sql: "DELETE FROM webhook_sources WHERE id = ?", arguments: [rowID])
            try EventLedger.append(
                NewEvent(.webhookSourceRemoved, listID: listID, source: source, detail: ["provider": provider, "id": id]),
                at: Date(), in: db)
        }
    }

    public func webhookVerifier(provider: WebhookProvider, list slug: ListSlug) async throws -> WebhookVerifier? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT w.public_id, w.ses_topic_arn, w.sendgrid_public_key, w.mailgun_key_sealed,
                        w.postmark_username, w.postmark_salt, w.postmark_sha256
                    FROM webhook_sources w JOIN lists l ON l.id = w.list_id WHERE l.slug = ? AND w.provider = ?
                    """),
                arguments: [slug.rawValue, provider.rawValue])
            else { return nil }
            let id: String = row["public_id"]
            let material: WebhookVerifier.Material
            switch provider {
            case .ses:
                material = .ses(topicARN: row["ses_topic_arn"])
            case .sendgrid:
                material = .sendgrid(publicKey: try Self.required(row, "sendgrid_public_key"))
            case .mailgun:
                let sealed = try Self.required(row, "mailgun_key_sealed")
                material = .mailgun(signingKey: try ProviderSecretSeal.open(sealed, rowID: id, key: ProviderSecretSeal.key(in: db)))
            case .postmark:
                material = .postmark(
                    username: try Self.required(row, "postmark_username"),
                    password: WebhookPasswordHash(salt: try Self.required(row, "postmark_salt"), sha256: try Self.required(row, "postmark_sha256")))
            }
            return WebhookVerifier(sourceID: id, listSlug: slug, material: material)
        }
    }

    public func claimWebhookNonce(_ nonce: String, sourceID: String, at now: Date, forgetBefore: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_nonces WHERE seen_at < ?", arguments: [Timestamp.string(forgetBefore)])
            guard let rowID = try Int64.fetchOne(
                db, sql: "SELECT id FROM webhook_sources WHERE public_id = ?", arguments: [sourceID])
            else { throw WebhookSourceError.unknown(sourceID) }
            try db.execute(
                sql: "INSERT OR IGNORE INTO webhook_nonces (source_id, nonce, seen_at) VALUES (?, ?, ?)",
                arguments: [rowID, nonce, Timestamp.string(now)])
            return db.changesCount == 1
        }
    }

    public func releaseWebhookNonce(_ nonce: String, sourceID: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM webhook_nonces
                    WHERE nonce = ? AND source_id = (SELECT id FROM webhook_sources WHERE public_id = ?)
                    """,
                arguments: [nonce, sourceID])
        }
    }

    private static func provider(_ text: String) throws -> WebhookProvider {
        guard let provider = WebhookProvider(rawValue: text) else { throw StoreError.unreadableValue(column: "webhook_sources.provider", text) }
        return provider
    }

    private static func time(_ text: String) throws -> Date {
        guard let date = Timestamp.parse(text) else { throw StoreError.unreadableValue(column: "webhook_sources.created_at", text) }
        return date
    }

    private static func required(_ row: Row, _ column: String) throws -> String {
        guard let value: String = row[column] else { throw StoreError.unreadableValue(column: "webhook_sources.\(column)", "NULL") }
        return value
    }
}

/// The provider seal's key read from the database (ListgateCore's ProviderSecretSeal seals
/// and opens, the same for every store).
extension ProviderSecretSeal {
    /// `creating`: in a write, make the key when it is missing (`migrate` makes it too;
    /// this covers a database whose keys were made before this one existed).
    static func key(in db: Database, creating: Bool = false) throws -> SymmetricKey {
        let name = GeneratedKey.webhookSecretKey.rawValue
        if creating {
            try db.execute(
                sql: "INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                arguments: [name, RandomToken.hex(bytes: 32), Timestamp.string(Date())])
        }
        guard let value = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [name]) else {
            throw StoreError.needsMigration
        }
        return key(settingValue: value)
    }
}
