// Outbound webhooks below the binary: the signature against the Standard Webhooks
// project's own test vector, the retry schedule, the URL rule, the body, and the queue the
// ledger's trigger fills in each change's transaction (real SQLite files).
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import Testing

@Suite("Outbound webhooks: signature, schedule, body")
struct WebhookVocabularyTests {
    @Test("the signature is the Standard Webhooks reference libraries' for their published vector")
    func referenceVector() throws {
        let secret = try #require(WebhookSecret(text: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let header = WebhookSignature.header(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret)
        #expect(header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(WebhookSignature.isValid(header: "v1,bm90IGl0 " + header, id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                         timestamp: 1_614_265_330, body: body, secret: secret))
        #expect(!WebhookSignature.isValid(header: header, id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                          timestamp: 1_614_265_331, body: body, secret: secret))
    }

    @Test("a new secret is whsec_ and the base64 of 24 random bytes, and reads back as those bytes")
    func secretForm() throws {
        let secret = WebhookSecret.generate()
        #expect(secret.text.hasPrefix("whsec_"))
        #expect(Data(base64Encoded: String(secret.text.dropFirst(6)))?.count == 24)
        #expect(WebhookSecret(text: secret.text) == secret)
        #expect(WebhookSecret.generate() != secret)
    }

    @Test("retries double from the base up to the cap, with jitter of a quarter either way")
    func schedule() {
        let policy = WebhookRetryPolicy()
        #expect(policy.delay(afterAttempt: 1, jitter: 0.5) == 30)
        #expect(policy.delay(afterAttempt: 2, jitter: 0.5) == 60)
        #expect(policy.delay(afterAttempt: 5, jitter: 0.5) == 480)
        #expect(policy.delay(afterAttempt: 30, jitter: 0.5) == 6 * 3600)
        #expect(policy.delay(afterAttempt: 1, jitter: 0) == 22.5)
        #expect(policy.delay(afterAttempt: 1, jitter: 0.999_999) < 37.5)
    }

    @Test("a failure is retried while the next try falls within 3 days of the first, and is failed after")
    func givingUp() {
        let policy = WebhookRetryPolicy()
        let first = Date(timeIntervalSince1970: 1_800_000_000)
        let early = policy.afterFailure(attempt: 1, firstDueAt: first, now: first, status: 500, error: "HTTP 500", jitter: 0.5)
        #expect(early == .retry(at: first.addingTimeInterval(30), status: 500, error: "HTTP 500"))
        let late = first.addingTimeInterval(3 * 86_400 - 3600)
        let last = policy.afterFailure(attempt: 19, firstDueAt: first, now: late, status: nil, error: "timed out", jitter: 0.5)
        #expect(last == .failed(status: nil, error: "gave up after 19 attempts: timed out"))
        // The whole schedule, without jitter: how many attempts 3 days hold.
        var now = first, attempts = 0
        while case .retry(let next, _, _) = policy.afterFailure(
            attempt: attempts + 1, firstDueAt: first, now: now, status: 500, error: "x", jitter: 0.5) {
            attempts += 1
            now = next
        }
        #expect((15...25).contains(attempts + 1), "about 20 attempts in 3 days, not \(attempts + 1)")
    }

    @Test("URLs: http and https with a host are accepted", arguments: [
        "http://127.0.0.1:8080/hooks", "https://crm.example.com/hooks/listgate?key=1", "HTTPS://Example.COM",
    ])
    func acceptedURLs(_ text: String) throws {
        let url = try WebhookURL(text)
        #expect(url.rawValue.hasPrefix("http"))
    }

    @Test("URLs: anything else is refused", arguments: [
        "ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "http://", "https:///path", "example.com/hooks",
        "http://user:pass@example.com/", "http://exa mple.com/", "gopher://example.com", "",
    ])
    func refusedURLs(_ text: String) {
        #expect(throws: WebhookError.self) { try WebhookURL(text) }
    }

    func delivery(_ type: WebhookEventType, email: String?, detail: String = #"{"route":"admin"}"#) -> DueWebhookDelivery {
        DueWebhookDelivery(
            id: 1, publicID: "msg_000000000000000000000001", type: type, listSlug: "news", email: email,
            addressHash: String(repeating: "a", count: 64), occurredAt: "2026-11-21T09:30:00.000Z", detail: detail,
            attempts: 0, firstDueAt: Date())
    }

    @Test("the body is the documented object, and carries the email")
    func body() throws {
        let body = String(decoding: WebhookPayload.body(for: delivery(.unsubscribed, email: "taro@example.jp")), as: UTF8.self)
        #expect(body == #"{"id":"msg_000000000000000000000001","type":"unsubscribed","list":"news","email":"taro@example.jp","address_hash":"\#(String(repeating: "a", count: 64))","occurred_at":"2026-11-21T09:30:00.000Z","detail":{"route":"admin"}}"#)
    }

    @Test("a forgotten body has no email key at all")
    func forgottenBody() throws {
        let object = try #require(try JSONSerialization.jsonObject(
            with: Data(WebhookPayload.body(for: delivery(.forgotten, email: nil)))) as? [String: Any])
        #expect(object["email"] == nil && object.keys.contains("address_hash"))
        #expect(object["type"] as? String == "forgotten")
    }

    @Test("the signature appended into a buffer is the header's, for the reference vector")
    func appendedSignature() throws {
        let secret = try #require(WebhookSecret(text: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        var bytes = Array("webhook-signature: ".utf8)
        Array(#"{"test": 2432232314}"#.utf8).withUnsafeBytes { body in
            WebhookSignature.append(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, key: WebhookSignature.key(secret), to: &bytes)
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("a detail is shared the same whether copied in the ledger's form or read by the general path", arguments: [
        #"{}"#,
        #"{"route":"form"}"#,
        #"{"client_network":"203.0.113.0/24","route":"form","user_agent":"Mozilla/5.0"}"#,
        #"{"a":"日本語","b":"x\u007fy","route":"admin"}"#,
        "{\"a\":\"日本語\",\"b\":\"x\u{7F}y\",\"route\":\"admin\"}",
        #"{"note":"say \"hi\"\n","route":"api"}"#,
        #"{"route":"form","a":"unsorted"}"#,
        #"{ "route" : "spaced" }"#,
        #"{"count":3,"flag":true,"route":"cli","gone":null}"#,
        #"{"a":"x","a":"duplicate"}"#,
        #"{"a"}"#, #"{"a":"b",}"#, #"{"a":"b""#, "not json", "",
    ])
    func sharedDetail(_ detail: String) {
        var copied: [UInt8] = []
        WebhookPayload.appendShared(detail: detail, to: &copied)
        #expect(String(decoding: copied, as: UTF8.self) == WebhookPayload.generalShared(detail: detail))
    }

    @Test("the network and browser a person confirmed from stay out of the body")
    func withheldDetail() {
        let detail = #"{"client_network":"203.0.113.0/24","route":"form","user_agent":"Mozilla/5.0"}"#
        let body = String(decoding: WebhookPayload.body(for: delivery(.subscribed, email: "a@example.net", detail: detail)), as: UTF8.self)
        #expect(body.hasSuffix(#""detail":{"route":"form"}}"#))
    }
}

@Suite("Outbound webhooks: the queue in the change's transaction")
struct WebhookQueueTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func prepared(_ types: [String] = []) async throws -> (MigratedDatabase, Webhook, WebhookSecret) {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        _ = try await database.store.createList(try .sample("other", name: "他"), source: .cli)
        let (webhook, secret) = try await WebhookRegistry(store: database.store)
            .add(url: "http://127.0.0.1:9/hooks", list: ListSlug("news"), types: types, source: .cli, at: now)
        return (database, webhook, secret)
    }

    func add(_ email: String, to list: String = "news", confirmed: Bool = true, in database: MigratedDatabase) async throws {
        _ = try await database.store.addSubscriber(
            NewSubscriber(address: EmailAddress(email), list: ListSlug(list), name: nil, confirmed: confirmed), source: .cli, at: now)
    }

    func deliveries(_ database: MigratedDatabase) throws -> [Row] {
        try database.store.pool.read { try Row.fetchAll($0, sql: "SELECT * FROM webhook_deliveries ORDER BY id") }
    }

    @Test("an admin's active add queues `subscribed` with the address; a pending add, another list's change, nothing")
    func subscribedOnActiveAdd() async throws {
        let (database, _, _) = try await prepared()
        try await add("pending@example.net", confirmed: false, in: database)
        try await add("elsewhere@example.net", to: "other", in: database)
        try await add("taro@example.jp", in: database)
        let rows = try deliveries(database)
        #expect(rows.count == 1)
        #expect(rows.first?["type"] == "subscribed" && rows.first?["email"] == "taro@example.jp")
        #expect(rows.first?["status"] == "pending")
    }

    @Test("leaving queues `unsubscribed` in the same transaction as the change")
    func unsubscribedQueued() async throws {
        let (database, _, _) = try await prepared(["unsubscribed"])
        try await add("taro@example.jp", in: database)
        #expect(try deliveries(database).isEmpty, "a webhook gets only the kinds it asked for")
        _ = try await database.store.removeSubscriber(try EmailAddress("taro@example.jp"), from: ListSlug("news"), source: .cli, at: now)
        let rows = try deliveries(database)
        #expect(rows.map { $0["type"] as String } == ["unsubscribed"])
        let eventID: Int64 = rows[0]["event_id"]
        let eventType = try await database.store.pool.read {
            try String.fetchOne($0, sql: "SELECT type FROM events WHERE id = ?", arguments: [eventID])
        }
        #expect(eventType == "unsubscribed")
    }

    @Test("an import queues nothing: imports never fire `subscribed`")
    func importQueuesNothing() async throws {
        let (database, _, _) = try await prepared()
        let reader = try SubscriberFileReader(source: InMemoryByteSource("email\na@example.net\nb@example.net\n"), format: .csv, name: "t")
        _ = try await database.store.importSubscribers(
            from: reader, options: ImportOptions(list: ListSlug("news"), rules: ImportRules(consentNote: "x"), batchSize: 100),
            problem: { _ in }, progress: { _ in })
        #expect(try deliveries(database).isEmpty)
    }

    @Test("forget erases the address from every delivery and queues `forgotten` to the lists the person was on only")
    func forgetErases() async throws {
        let (database, _, _) = try await prepared()
        // A second webhook, on a list the person is not on.
        _ = try await WebhookRegistry(store: database.store)
            .add(url: "http://127.0.0.1:9/other", list: ListSlug("other"), types: [], source: .cli, at: now)
        try await add("taro@example.jp", in: database)
        _ = try await database.store.removeSubscriber(try EmailAddress("taro@example.jp"), from: ListSlug("news"), source: .cli, at: now)
        _ = try await database.store.forget(try EmailAddress("taro@example.jp"), source: .cli, at: now)
        let rows = try deliveries(database)
        #expect(rows.map { $0["type"] as String } == ["subscribed", "unsubscribed", "forgotten"])
        #expect(rows.allSatisfy { ($0["email"] as String?) == nil }, "no delivery keeps the address")
        #expect(Set(rows.map { $0["webhook_id"] as Int64 }).count == 1, "nothing to the other list's webhook")
        let dump = try database.store.pool.read { try Row.fetchAll($0, sql: "SELECT * FROM webhook_deliveries") }.description
        #expect(!dump.contains("taro"))
    }

    @Test("the secret is sealed at rest, bound to its webhook, and opens for the worker")
    func secretSealed() async throws {
        let (database, webhook, secret) = try await prepared()
        let sealed = try #require(try await database.store.pool.read {
            try Data.fetchOne($0, sql: "SELECT secret_sealed FROM webhooks WHERE public_id = ?", arguments: [webhook.id])
        })
        #expect(sealed.range(of: Data(secret.bytes)) == nil)
        #expect(!String(decoding: sealed, as: UTF8.self).contains(secret.text))
        let targets = try await database.store.activeWebhookTargets()
        #expect(targets.map(\.secret) == [secret])
        // Moved onto another webhook's row, it does not open.
        _ = try await WebhookRegistry(store: database.store)
            .add(url: "http://127.0.0.1:9/other", list: ListSlug("other"), types: [], source: .cli, at: now)
        try await database.store.pool.write {
            try $0.execute(sql: "UPDATE webhooks SET secret_sealed = ? WHERE public_id <> ?", arguments: [sealed, webhook.id])
        }
        await #expect(throws: (any Error).self) { try await database.store.activeWebhookTargets() }
    }

    @Test("a claim leases: not claimed twice, due again after the lease or when the next start releases it")
    func leases() async throws {
        let (database, _, _) = try await prepared()
        try await add("taro@example.jp", in: database)
        let target = try #require(try await database.store.activeWebhookTargets().first)
        let claimed = try await database.store.claimWebhookDeliveries(
            webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
        #expect(claimed.count == 1 && claimed[0].email == "taro@example.jp")
        #expect(try await database.store.claimWebhookDeliveries(
            webhookID: target.id, now: now.addingTimeInterval(59), leaseUntil: now.addingTimeInterval(120), limit: 10).isEmpty)
        #expect(try await database.store.claimWebhookDeliveries(
            webhookID: target.id, now: now.addingTimeInterval(61), leaseUntil: now.addingTimeInterval(120), limit: 10)
            .map(\.publicID) == claimed.map(\.publicID))
        #expect(try await database.store.releaseWebhookLeases() == 1)
        #expect(try await database.store.claimWebhookDeliveries(
            webhookID: target.id, now: Date(), leaseUntil: Date().addingTimeInterval(60), limit: 10).count == 1)
    }
}
