// Provider webhook sources on PostgreSQL (WebhookSourceStore), as ListgateSQLite's
// Feedback/SQLiteStore+WebhookSources.swift keeps them: one per provider and list, each
// change a ledger event that names the provider and the id and never a secret. Mailgun's
// signing key is sealed by ListgateCore's ProviderSecretSeal under the `webhook_secret_key`
// setting, so either store opens what the other sealed; Postmark's password is a salted hash.
import Crypto
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: WebhookSourceStore {
    public func addWebhookSource(list slug: ListSlug, setting: WebhookSourceSetting, source: EventSource) async throws
        -> WebhookSource
    {
        let now = Date().stored
        return try await write { connection in
            guard let listID = try await connection.value(
                "SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self)
            else { throw DomainError.listNotFound(slug.rawValue) }
            let provider = setting.provider
            if let existing = try await connection.value(
                "SELECT public_id FROM webhook_sources WHERE list_id = \(listID) AND provider = \(provider.rawValue)", as: String.self)
            {
                throw WebhookSourceError.duplicate(provider: provider, list: slug.rawValue, id: existing)
            }
            let id = "wh_" + RandomToken.hex(bytes: 8)
            var topicARN: String?, publicKey: String?, sealedKey: String?, username: String?, hash: WebhookPasswordHash?
            switch setting {
            case .ses(let topic): topicARN = topic
            case .sendgrid(let key): publicKey = key
            case .mailgun(let key):
                sealedKey = try ProviderSecretSeal.seal(
                    key, rowID: id, key: try await Self.providerSealKey(on: connection, creating: true))
            case .postmark(let user, let password): (username, hash) = (user, WebhookPasswordHash.make(password))
            }
            try await connection.execute("""
                INSERT INTO webhook_sources (public_id, list_id, provider, ses_topic_arn, sendgrid_public_key,
                    mailgun_key_sealed, postmark_username, postmark_salt, postmark_sha256, created_at)
                VALUES (\(id), \(listID), \(provider.rawValue), \(topicARN), \(publicKey), \(sealedKey), \(username),
                        \(hash?.salt), \(hash?.sha256), \(now))
                """)
            try await PostgresLedger.append(
                NewEvent(.webhookSourceAdded, listID: listID, source: source, detail: ["provider": provider.rawValue, "id": id]),
                at: now, on: connection)
            return WebhookSource(
                id: id, provider: provider, listSlug: slug.rawValue, createdAt: now, topicARN: topicARN, username: username)
        }
    }

    public func webhookSources() async throws -> [WebhookSource] {
        try await read { connection in
            try await connection.rows("""
                SELECT w.public_id, w.provider, l.slug, w.created_at, w.ses_topic_arn, w.postmark_username
                FROM webhook_sources w JOIN lists l ON l.id = w.list_id
                ORDER BY l.slug COLLATE "C", w.provider COLLATE "C"
                """
            ).map { row in
                WebhookSource(
                    id: try row.get("public_id"), provider: try Self.provider(try row.get("provider")),
                    listSlug: try row.get("slug"), createdAt: (try row.get("created_at", as: Date.self)).stored,
                    topicARN: try row.get("ses_topic_arn"), username: try row.get("postmark_username"))
            }
        }
    }

    public func removeWebhookSource(id: String, source: EventSource) async throws {
        let now = Date()
        try await write { connection in
            guard let row = try await connection.row(
                "SELECT id, list_id, provider FROM webhook_sources WHERE public_id = \(id)")
            else { throw WebhookSourceError.unknown(id) }
            let rowID = try row.get("id", as: Int64.self), listID = try row.get("list_id", as: Int64.self)
            let provider = try row.get("provider", as: String.self)
            // The secrets go with the row; its nonces by cascade.
            try await connection.execute("DELETE FROM webhook_nonces WHERE source_id = \(rowID)")
            try await connection.execute("DELETE FROM webhook_sources WHERE id = \(rowID)")
            try await PostgresLedger.append(
                NewEvent(.webhookSourceRemoved, listID: listID, source: source, detail: ["provider": provider, "id": id]),
                at: now, on: connection)
        }
    }

    public func webhookVerifier(provider: WebhookProvider, list slug: ListSlug) async throws -> WebhookVerifier? {
        try await read { connection -> WebhookVerifier? in
            guard let row = try await connection.row("""
                SELECT w.public_id, w.ses_topic_arn, w.sendgrid_public_key, w.mailgun_key_sealed,
                    w.postmark_username, w.postmark_salt, w.postmark_sha256
                FROM webhook_sources w JOIN lists l ON l.id = w.list_id
                WHERE l.slug = \(slug.rawValue) AND w.provider = \(provider.rawValue)
                """)
            else { return nil }
            let id = try row.get("public_id", as: String.self)
            let material: WebhookVerifier.Material
            switch provider {
            case .ses:
                material = .ses(topicARN: try row.get("ses_topic_arn"))
            case .sendgrid:
                material = .sendgrid(publicKey: try Self.required(row, "sendgrid_public_key"))
            case .mailgun:
                let sealed = try Self.required(row, "mailgun_key_sealed")
                material = .mailgun(signingKey: try ProviderSecretSeal.open(
                    sealed, rowID: id, key: try await Self.providerSealKey(on: connection, creating: false)))
            case .postmark:
                material = .postmark(
                    username: try Self.required(row, "postmark_username"),
                    password: WebhookPasswordHash(
                        salt: try Self.required(row, "postmark_salt"), sha256: try Self.required(row, "postmark_sha256")))
            }
            return WebhookVerifier(sourceID: id, listSlug: slug, material: material)
        }
    }

    public func claimWebhookNonce(_ nonce: String, sourceID: String, at now: Date, forgetBefore: Date) async throws -> Bool {
        // The primary key decides who claims: under READ COMMITTED a second insert of the
        // same token waits for the first and then does nothing, where SERIALIZABLE would
        // abort and retry every request that arrives together.
        try await readCommitted { connection in
            try await connection.execute("DELETE FROM webhook_nonces WHERE seen_at < \(forgetBefore.stored)")
            guard let rowID = try await connection.value(
                "SELECT id FROM webhook_sources WHERE public_id = \(sourceID)", as: Int64.self)
            else { throw WebhookSourceError.unknown(sourceID) }
            return try await connection.value("""
                INSERT INTO webhook_nonces (source_id, nonce, seen_at) VALUES (\(rowID), \(nonce), \(now.stored))
                ON CONFLICT DO NOTHING
                RETURNING 1::bigint
                """, as: Int64.self) != nil
        }
    }

    public func releaseWebhookNonce(_ nonce: String, sourceID: String) async throws {
        try await write { connection in
            try await connection.execute("""
                DELETE FROM webhook_nonces
                WHERE nonce = \(nonce) AND source_id = (SELECT id FROM webhook_sources WHERE public_id = \(sourceID))
                """)
        }
    }

    /// The provider seal's key from the `webhook_secret_key` setting. `creating`: in a
    /// write, make the setting when it is missing, as SQLite does (`migrate` makes it too).
    static func providerSealKey(on connection: PostgresConnection, creating: Bool) async throws -> SymmetricKey {
        let name = GeneratedKey.webhookSecretKey.rawValue
        if creating {
            try await connection.execute("""
                INSERT INTO settings (key, value, updated_at) VALUES (\(name), \(RandomToken.hex(bytes: 32)), \(Date().stored))
                ON CONFLICT (key) DO NOTHING
                """)
        }
        guard let value = try await connection.value("SELECT value FROM settings WHERE key = \(name)", as: String.self) else {
            throw StoreError.needsMigration
        }
        return ProviderSecretSeal.key(settingValue: value)
    }

    private static func provider(_ text: String) throws -> WebhookProvider {
        guard let provider = WebhookProvider(rawValue: text) else {
            throw StoreError.unreadableValue(column: "webhook_sources.provider", text)
        }
        return provider
    }

    private static func required(_ row: PostgresRandomAccessRow, _ column: String) throws -> String {
        guard let value = try row.get(column, as: String?.self) else {
            throw StoreError.unreadableValue(column: "webhook_sources.\(column)", "NULL")
        }
        return value
    }
}
