// Specification of the provider webhook sources as the SQLite store keeps them
// (Migrations/0013_inbound_webhooks.sql): one per provider and list, secrets never in the
// clear (Mailgun's key sealed, Postmark's password hashed), every change a ledger event
// naming provider and id only, and one-time tokens claimed once.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import Testing

@Suite("Provider webhook sources in the store")
struct WebhookSourceStoreTests {
    static func database() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        return database
    }

    static let news = try! ListSlug("news")

    @Test("a Mailgun signing key is stored sealed, and opens to the same key for verification")
    func mailgunSealed() async throws {
        let database = try await Self.database()
        let key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
        let source = try await database.store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: key), source: .cli)
        let dump = try await database.rawConnection().read { db in try Row.fetchAll(db, sql: "SELECT * FROM webhook_sources").description }
        #expect(!dump.contains(key), "the key is not in the table in the clear")
        let verifier = try #require(try await database.store.webhookVerifier(provider: .mailgun, list: Self.news))
        #expect(verifier.material == .mailgun(signingKey: key))
        #expect(verifier.sourceID == source.id)
    }

    @Test("a sealed key copied onto another row does not open")
    func sealBoundToRow() async throws {
        let database = try await Self.database()
        _ = try await database.store.createList(try .sample("tech"), source: .cli)
        _ = try await database.store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "key-news"), source: .cli)
        _ = try await database.store.addWebhookSource(list: try ListSlug("tech"), setting: .mailgun(signingKey: "key-tech"), source: .cli)
        try await database.rawConnection().write { db in
            try db.execute(sql: """
                UPDATE webhook_sources SET mailgun_key_sealed =
                    (SELECT mailgun_key_sealed FROM webhook_sources w JOIN lists l ON l.id = w.list_id WHERE l.slug = 'news')
                WHERE list_id = (SELECT id FROM lists WHERE slug = 'tech')
                """)
        }
        await #expect(throws: StoreError.self) { try await database.store.webhookVerifier(provider: .mailgun, list: try ListSlug("tech")) }
    }

    @Test("a Postmark password is stored as a salted hash that matches it and nothing else")
    func postmarkHashed() async throws {
        let database = try await Self.database()
        let password = "a-long-generated-password-0123456789"
        _ = try await database.store.addWebhookSource(
            list: Self.news, setting: .postmark(username: "listgate", password: password), source: .cli)
        let stored = try await database.rawConnection().read { db in try Row.fetchOne(db, sql: "SELECT * FROM webhook_sources")!.description }
        #expect(!stored.contains(password))
        let verifier = try #require(try await database.store.webhookVerifier(provider: .postmark, list: Self.news))
        guard case .postmark(let username, let hash) = verifier.material else { Issue.record("not a postmark verifier"); return }
        #expect(username == "listgate")
        #expect(hash.matches(password))
        #expect(!hash.matches(password + "x"))
    }

    @Test("one source per provider and list: a second is refused and changes nothing")
    func duplicate() async throws {
        let database = try await Self.database()
        let first = try await database.store.addWebhookSource(list: Self.news, setting: .ses(topicARN: nil), source: .cli)
        await #expect(throws: WebhookSourceError.duplicate(provider: .ses, list: "news", id: first.id)) {
            try await database.store.addWebhookSource(list: Self.news, setting: .ses(topicARN: "arn:aws:sns:x"), source: .cli)
        }
        #expect(try await database.store.webhookSources().map(\.id) == [first.id])
    }

    @Test("adding and removing are ledger events naming provider and id, never a secret")
    func ledgerEvents() async throws {
        let database = try await Self.database()
        let key = "key-never-in-the-ledger"
        let source = try await database.store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: key), source: .cli)
        try await database.store.removeWebhookSource(id: source.id, source: .cli)
        let events = try await database.rawConnection().read { db in
            try Row.fetchAll(db, sql: "SELECT type, detail FROM events WHERE type LIKE 'webhook_source_%' ORDER BY id")
                .map { ($0["type"] as String, $0["detail"] as String) }
        }
        #expect(events.map(\.0) == ["webhook_source_added", "webhook_source_removed"])
        for (_, detail) in events {
            let json = try #require(JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: String])
            #expect(json == ["provider": "mailgun", "id": source.id])
        }
        #expect(try await database.store.webhookVerifier(provider: .mailgun, list: Self.news) == nil)
        #expect(try await database.store.webhookSources().isEmpty)
    }

    @Test("removing an unknown id is an error naming it")
    func removeUnknown() async throws {
        let database = try await Self.database()
        await #expect(throws: WebhookSourceError.unknown("wh_missing")) {
            try await database.store.removeWebhookSource(id: "wh_missing", source: .cli)
        }
    }

    @Test("a source for an unknown list is refused")
    func unknownList() async throws {
        let database = try await Self.database()
        await #expect(throws: DomainError.listNotFound("missing")) {
            try await database.store.addWebhookSource(list: try ListSlug("missing"), setting: .ses(topicARN: nil), source: .cli)
        }
    }

    @Test("a one-time token is claimed once; a released claim can be made again; old claims are forgotten")
    func nonces() async throws {
        let database = try await Self.database()
        let source = try await database.store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "k"), source: .cli)
        let now = Date()
        let store = database.store
        #expect(try await store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        #expect(try await !store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        try await store.releaseWebhookNonce("t1", sourceID: source.id)
        #expect(try await store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        let later = now.addingTimeInterval(700)
        #expect(try await store.claimWebhookNonce("t2", sourceID: source.id, at: later, forgetBefore: later.addingTimeInterval(-600)))
        let kept = try await database.rawConnection().read { db in try String.fetchAll(db, sql: "SELECT nonce FROM webhook_nonces") }
        #expect(kept == ["t2"])
    }

    @Test("the migration's CHECKs refuse a source without its provider's material")
    func checks() async throws {
        let database = try await Self.database()
        await #expect(throws: DatabaseError.self) {
            try await database.rawConnection().write { db in
                try db.execute(sql: """
                    INSERT INTO webhook_sources (public_id, list_id, provider, created_at)
                    VALUES ('wh_00000001', (SELECT id FROM lists), 'sendgrid', '2026-11-21T00:00:00Z')
                    """)
            }
        }
    }
}
