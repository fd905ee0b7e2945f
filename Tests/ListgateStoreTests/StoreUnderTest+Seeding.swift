// What the ledger, feedback and webhook conformance tests write behind the store's back:
// members seeded with SQL both dialects accept (so feedback is tested without another
// room's operations), events inserted as a writer would, and a forger's edits.
import Foundation
import ListgateCore
import ListgatePostgres
import ListgateSQLite
import Testing

extension StoreUnderTest {
    /// Runs statements behind the store's back: `sqlite` on SQLite (outside a transaction,
    /// so it may hold PRAGMAs), `postgres` on PostgreSQL (in one transaction).
    func behindTheBack(sqlite sqliteSQL: String, postgres postgresSQL: [String]) async throws {
        if let sqlite {
            try await sqlite.executeForTests(sqliteSQL)
        } else {
            try await postgres!.executeForTests(postgresSQL)
        }
    }

    /// One statement both dialects accept, run behind the store's back.
    func behindTheBack(_ sql: String) async throws {
        try await behindTheBack(sqlite: sql, postgres: [sql])
    }

    /// The address hash the store writes for `identityKey`.
    func addressHash(_ identityKey: String) async throws -> String {
        let key = try #require(try await value("SELECT value FROM settings WHERE key = 'address_hash_key'"))
        return AddressHasher.hash(identityKey: identityKey, key: key)
    }

    /// A member of `list` (by slug) with `status`, as an admin's add would leave it: its
    /// address row and its subscription (public and recipient ids filled by the schema).
    /// Returns the subscription's recipient id.
    @discardableResult
    func seedMember(_ email: String, list: String = "news", status: String = "active") async throws -> String {
        let hash = try await addressHash(email)
        let stamp = "2026-01-01T00:00:00.000Z"
        try await behindTheBack("""
            INSERT INTO addresses (email, identity_key, address_hash, created_at)
            SELECT '\(email)', '\(email)', '\(hash)', '\(stamp)'
            WHERE NOT EXISTS (SELECT 1 FROM addresses WHERE identity_key = '\(email)')
            """)
        try await behindTheBack("""
            INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at, unsubscribed_at)
            VALUES ((SELECT id FROM lists WHERE slug = '\(list)'), (SELECT id FROM addresses WHERE identity_key = '\(email)'),
                    '\(status)', 'admin', '\(stamp)', '\(stamp)', \(status == "pending" ? "NULL" : "'\(stamp)'"),
                    \(status == "pending" || status == "active" ? "NULL" : "'\(stamp)'"))
            """)
        return try #require(try await value("""
            SELECT s.recipient_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE a.identity_key = '\(email)' AND s.list_id = (SELECT id FROM lists WHERE slug = '\(list)')
            """))
    }

    /// The status of `email`'s subscription to `list`.
    func status(_ email: String, list: String = "news") async throws -> String? {
        try await value("""
            SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE a.identity_key = '\(email)' AND s.list_id = (SELECT id FROM lists WHERE slug = '\(list)')
            """)
    }

    /// An event of `type` about `email` on `list`, inserted as a writer's change would
    /// (the outbound webhooks' trigger queues its deliveries).
    func seedEvent(_ type: String, about email: String, list: String = "news") async throws {
        let hash = try await addressHash(email)
        try await behindTheBack("""
            INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail)
            VALUES ('2026-11-21T00:00:00.000Z', '\(type)', (SELECT id FROM lists WHERE slug = '\(list)'), '\(hash)', 'cli',
                    '{"route":"admin"}')
            """)
    }

    /// Seals every waiting event, as a command does when it exits.
    @discardableResult
    func seal() async throws -> Int {
        try await self.as((any LedgerStore).self).sealPending(as: "test", lease: .seconds(10)).sealedCount
    }
}
