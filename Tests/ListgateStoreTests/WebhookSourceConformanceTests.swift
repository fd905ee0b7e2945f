// Specification of the provider webhook sources, on every store: one per provider and
// list, secrets never in the clear (Mailgun's key sealed, Postmark's password hashed),
// every change a ledger event naming provider and id only, and one-time tokens claimed once.
import Foundation
import ListgateCore
import Testing

@Suite("Provider webhook sources, on every store")
struct WebhookSourceConformanceTests {
    static let news = try! ListSlug("news")

    func prepared(_ kind: StoreKind) async throws -> (StoreUnderTest, any WebhookSourceStore) {
        let opened = try await StoreUnderTest.open(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        return (opened, try opened.as((any WebhookSourceStore).self))
    }

    @Test("a Mailgun signing key is stored sealed, and opens to the same key for verification", arguments: StoreKind.underTest)
    func mailgunSealed(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
        let source = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: key), source: .cli)
        let dump = String(describing: try await opened.rows("SELECT * FROM webhook_sources"))
        #expect(!dump.contains(key), "the key is not in the table in the clear")
        let verifier = try #require(try await store.webhookVerifier(provider: .mailgun, list: Self.news))
        #expect(verifier.material == .mailgun(signingKey: key))
        #expect(verifier.sourceID == source.id)
    }

    @Test("a sealed key is ListgateCore's seal under the webhook_secret_key setting, bound to its row",
          arguments: StoreKind.underTest)
    func mailgunSealIsShared(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let source = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "key-shared"), source: .cli)
        let sealed = try #require(try await opened.value("SELECT mailgun_key_sealed FROM webhook_sources"))
        let setting = try #require(try await opened.value("SELECT value FROM settings WHERE key = 'webhook_secret_key'"))
        #expect(try ProviderSecretSeal.open(sealed, rowID: source.id, key: ProviderSecretSeal.key(settingValue: setting)) == "key-shared")
    }

    @Test("a sealed key copied onto another row does not open", arguments: StoreKind.underTest)
    func sealBoundToRow(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("tech"), source: .cli)
        _ = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "key-news"), source: .cli)
        _ = try await store.addWebhookSource(list: try ListSlug("tech"), setting: .mailgun(signingKey: "key-tech"), source: .cli)
        try await opened.behindTheBack("""
            UPDATE webhook_sources SET mailgun_key_sealed =
                (SELECT mailgun_key_sealed FROM webhook_sources w JOIN lists l ON l.id = w.list_id WHERE l.slug = 'news')
            WHERE list_id = (SELECT id FROM lists WHERE slug = 'tech')
            """)
        await #expect(throws: StoreError.self) { try await store.webhookVerifier(provider: .mailgun, list: try ListSlug("tech")) }
    }

    @Test("a Postmark password is stored as a salted hash that matches it and nothing else", arguments: StoreKind.underTest)
    func postmarkHashed(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let password = "a-long-generated-password-0123456789"
        _ = try await store.addWebhookSource(
            list: Self.news, setting: .postmark(username: "listgate", password: password), source: .cli)
        let stored = String(describing: try await opened.rows("SELECT * FROM webhook_sources"))
        #expect(!stored.contains(password))
        let verifier = try #require(try await store.webhookVerifier(provider: .postmark, list: Self.news))
        guard case .postmark(let username, let hash) = verifier.material else { Issue.record("not a postmark verifier"); return }
        #expect(username == "listgate")
        #expect(hash.matches(password))
        #expect(!hash.matches(password + "x"))
    }

    @Test("SES and SendGrid sources read back with their material; the list shows no secret", arguments: StoreKind.underTest)
    func sesAndSendGrid(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("alpha"), source: .cli)
        let ses = try await store.addWebhookSource(list: Self.news, setting: .ses(topicARN: "arn:aws:sns:ap-northeast-1:1:t"), source: .cli)
        let grid = try await store.addWebhookSource(list: try ListSlug("alpha"), setting: .sendgrid(publicKey: "MFkwEw=="), source: .cli)
        #expect(try await store.webhookVerifier(provider: .ses, list: Self.news)?.material == .ses(topicARN: "arn:aws:sns:ap-northeast-1:1:t"))
        #expect(try await store.webhookVerifier(provider: .sendgrid, list: try ListSlug("alpha"))?.material == .sendgrid(publicKey: "MFkwEw=="))
        #expect(try await store.webhookVerifier(provider: .sendgrid, list: Self.news) == nil)
        let listed = try await store.webhookSources()
        #expect(listed.map(\.id) == [grid.id, ses.id], "by list slug")
        #expect(listed.last?.topicARN == "arn:aws:sns:ap-northeast-1:1:t")
    }

    @Test("one source per provider and list: a second is refused and changes nothing", arguments: StoreKind.underTest)
    func duplicate(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let first = try await store.addWebhookSource(list: Self.news, setting: .ses(topicARN: nil), source: .cli)
        await #expect(throws: WebhookSourceError.duplicate(provider: .ses, list: "news", id: first.id)) {
            try await store.addWebhookSource(list: Self.news, setting: .ses(topicARN: "arn:aws:sns:x"), source: .cli)
        }
        #expect(try await store.webhookSources().map(\.id) == [first.id])
        #expect(try await opened.count("events", where: "type = 'webhook_source_added'") == 1)
    }

    @Test("adding and removing are ledger events naming provider and id, never a secret", arguments: StoreKind.underTest)
    func ledgerEvents(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let key = "key-never-in-the-ledger"
        let source = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: key), source: .cli)
        try await store.removeWebhookSource(id: source.id, source: .cli)
        let events = try await opened.rows("SELECT type, detail FROM events WHERE type LIKE 'webhook_source_%' ORDER BY id")
        #expect(events.map { $0[0] } == ["webhook_source_added", "webhook_source_removed"])
        for event in events {
            let json = try #require(JSONSerialization.jsonObject(with: Data((event[1] ?? "").utf8)) as? [String: String])
            #expect(json == ["provider": "mailgun", "id": source.id])
        }
        #expect(try await store.webhookVerifier(provider: .mailgun, list: Self.news) == nil)
        #expect(try await store.webhookSources().isEmpty)
    }

    @Test("removing an unknown id is an error naming it", arguments: StoreKind.underTest)
    func removeUnknown(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        await #expect(throws: WebhookSourceError.unknown("wh_missing")) {
            try await store.removeWebhookSource(id: "wh_missing", source: .cli)
        }
    }

    @Test("a source for an unknown list is refused", arguments: StoreKind.underTest)
    func unknownList(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        await #expect(throws: DomainError.listNotFound("missing")) {
            try await store.addWebhookSource(list: try ListSlug("missing"), setting: .ses(topicARN: nil), source: .cli)
        }
    }

    @Test("a one-time token is claimed once; a released claim can be made again; old claims are forgotten",
          arguments: StoreKind.underTest)
    func nonces(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let source = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "k"), source: .cli)
        let now = Date()
        #expect(try await store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        #expect(try await !store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        try await store.releaseWebhookNonce("t1", sourceID: source.id)
        #expect(try await store.claimWebhookNonce("t1", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)))
        let later = now.addingTimeInterval(700)
        #expect(try await store.claimWebhookNonce("t2", sourceID: source.id, at: later, forgetBefore: later.addingTimeInterval(-600)))
        #expect(try await opened.rows("SELECT nonce FROM webhook_nonces") == [["t2"]])
        await #expect(throws: WebhookSourceError.unknown("wh_gone")) {
            try await store.claimWebhookNonce("t3", sourceID: "wh_gone", at: now, forgetBefore: now)
        }
    }

    @Test("the same token claimed at once by many requests is claimed by one", arguments: StoreKind.underTest)
    func concurrentNonce(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        let source = try await store.addWebhookSource(list: Self.news, setting: .mailgun(signingKey: "k"), source: .cli)
        let now = Date()
        let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { try await store.claimWebhookNonce("once", sourceID: source.id, at: now, forgetBefore: now.addingTimeInterval(-600)) }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(claims.filter { $0 }.count == 1)
    }
}
