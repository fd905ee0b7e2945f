// Specification of outbound webhooks' storage, on every store: receivers with their
// sealed secrets, the deliveries the ledger's trigger queues, and the worker's claims,
// leases and outcomes. On PostgreSQL several servers share the queue: claims made at once
// take disjoint deliveries, and a server's start releases only its own leases and expired ones.
import Foundation
import ListgateCore
@testable import ListgatePostgres
import ListgateTestSupport
import Testing

@Suite("Outbound webhooks, on every store")
struct WebhookConformanceTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Lists `news` and `other`, a webhook on `news` for `types` (every type when empty).
    func prepared(_ kind: StoreKind, _ types: [String] = []) async throws -> (StoreUnderTest, Webhook, WebhookSecret) {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        _ = try await lists.createList(try .sample("other", name: "他"), source: .cli)
        let (webhook, secret) = try await WebhookRegistry(store: try opened.as((any WebhookStore).self))
            .add(url: "http://127.0.0.1:9/hooks?token=abc", list: ListSlug("news"), types: types, source: .cli, at: Self.now)
        return (opened, webhook, secret)
    }

    /// `count` deliveries queued by the trigger: a member's `bounced` event each.
    func queue(_ count: Int, in opened: StoreUnderTest) async throws {
        for n in 0..<count {
            try await opened.seedMember("m\(n)@example.net")
            try await opened.seedEvent("bounced", about: "m\(n)@example.net")
        }
    }

    @Test("adding a receiver records webhook_added with the host only, and lists it with its types", arguments: StoreKind.underTest)
    func added(_ kind: StoreKind) async throws {
        let (opened, webhook, _) = try await prepared(kind, ["bounced", "subscribed"])
        #expect(webhook.id.hasPrefix("wh_") && webhook.id.count == 19)
        #expect(webhook.types == [.subscribed, .bounced], "in the vocabulary's order")
        let listed = try await opened.as((any WebhookStore).self).webhooks()
        #expect(listed == [webhook])
        let detail = try #require(try await opened.value("SELECT detail FROM events WHERE type = 'webhook_added'"))
        #expect(detail == #"{"events":"subscribed,bounced","host":"127.0.0.1","webhook_id":"\#(webhook.id)"}"#)
    }

    @Test("a receiver for an unknown or archived list is refused", arguments: StoreKind.underTest)
    func refusedList(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind)
        let store = try opened.as((any WebhookStore).self)
        let url = try WebhookURL("https://example.com/hooks")
        await #expect(throws: DomainError.listNotFound("nope")) {
            try await store.addWebhook(NewWebhook(list: try ListSlug("nope"), url: url), secret: .generate(), source: .cli, at: Self.now)
        }
        _ = try await opened.as((any ListStore).self).archiveList(try ListSlug("other"), source: .cli)
        await #expect(throws: DomainError.listArchived("other")) {
            try await store.addWebhook(NewWebhook(list: try ListSlug("other"), url: url), secret: .generate(), source: .cli, at: Self.now)
        }
    }

    @Test("a change on the list queues a delivery of the kinds the receiver asked for, in the change's transaction",
          arguments: StoreKind.underTest)
    func queuedByTrigger(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind, ["bounced"])
        try await opened.seedMember("taro@example.jp")
        try await opened.seedEvent("complained", about: "taro@example.jp")
        #expect(try await opened.count("webhook_deliveries") == 0, "a webhook gets only the kinds it asked for")
        try await opened.seedEvent("bounced", about: "taro@example.jp")
        #expect(try await opened.rows("SELECT type, email, status FROM webhook_deliveries") == [["bounced", "taro@example.jp", "pending"]])
        #expect(try await opened.as((any WebhookDeliveryStore).self).pendingWebhookDeliveries() == 1)
    }

    @Test("the secret is sealed at rest, bound to its webhook, and opens for the worker", arguments: StoreKind.underTest)
    func secretSealed(_ kind: StoreKind) async throws {
        let (opened, webhook, secret) = try await prepared(kind)
        let sealed = try #require(try await opened.value("SELECT secret_sealed FROM webhooks WHERE public_id = '\(webhook.id)'"))
        #expect(!sealed.contains(secret.bytes.map { String(format: "%02x", $0) }.joined()))
        let worker = try opened.as((any WebhookDeliveryStore).self)
        #expect(try await worker.activeWebhookTargets().map(\.secret) == [secret])
        // Moved onto another webhook's row, it does not open.
        _ = try await WebhookRegistry(store: try opened.as((any WebhookStore).self))
            .add(url: "http://127.0.0.1:9/other", list: ListSlug("other"), types: [], source: .cli, at: Self.now)
        try await opened.behindTheBack("""
            UPDATE webhooks SET secret_sealed = (SELECT secret_sealed FROM webhooks WHERE public_id = '\(webhook.id)')
            WHERE public_id <> '\(webhook.id)'
            """)
        await #expect(throws: (any Error).self) { try await worker.activeWebhookTargets() }
    }

    @Test("a claim leases: not claimed twice, due again after the lease or when the next start releases it",
          arguments: StoreKind.underTest)
    func leases(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind)
        try await queue(1, in: opened)
        let store = try opened.as((any WebhookDeliveryStore).self)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let target = try #require(try await store.activeWebhookTargets().first)
        let claimed = try await store.claimWebhookDeliveries(
            webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
        #expect(claimed.count == 1 && claimed[0].email == "m0@example.net")
        #expect(claimed.first?.type == .bounced && claimed.first?.listSlug == "news")
        #expect(claimed.first?.occurredAt == "2026-11-21T00:00:00.000Z" && claimed.first?.detail == #"{"route":"admin"}"#)
        #expect(try await store.claimWebhookDeliveries(
            webhookID: target.id, now: now.addingTimeInterval(59), leaseUntil: now.addingTimeInterval(120), limit: 10).isEmpty)
        #expect(try await store.claimWebhookDeliveries(
            webhookID: target.id, now: now.addingTimeInterval(61), leaseUntil: now.addingTimeInterval(120), limit: 10)
            .map(\.publicID) == claimed.map(\.publicID))
        #expect(try await store.releaseWebhookLeases() == 1)
        #expect(try await store.claimWebhookDeliveries(
            webhookID: target.id, now: Date(), leaseUntil: Date().addingTimeInterval(60), limit: 10).count == 1)
    }

    @Test("claims made at once take disjoint deliveries, every one claimed once", arguments: StoreKind.underTest)
    func concurrentClaims(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind)
        try await queue(30, in: opened)
        let store = try opened.as((any WebhookDeliveryStore).self)
        let target = try #require(try await store.activeWebhookTargets().first)
        let now = Date()
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await store.claimWebhookDeliveries(
                        webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(60), limit: 10).map(\.id)
                }
            }
            return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == 30, "\(claims)")
        #expect(Set(all).count == all.count, "no delivery claimed twice")
    }

    @Test("each attempt's outcome is recorded: delivered, retried later, failed, or released untried",
          arguments: StoreKind.underTest)
    func outcomes(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind)
        try await queue(4, in: opened)
        let store = try opened.as((any WebhookDeliveryStore).self)
        let target = try #require(try await store.activeWebhookTargets().first)
        let now = Date()
        let claimed = try await store.claimWebhookDeliveries(
            webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
        #expect(claimed.count == 4)
        let later = now.addingTimeInterval(3600)
        try await store.recordWebhookAttempts([
            (claimed[0].id, .delivered(status: 204, at: now)),
            (claimed[1].id, .retry(at: later, status: 500, error: "HTTP 500")),
            (claimed[2].id, .failed(status: nil, error: String(repeating: "x", count: 600))),
            (claimed[3].id, .released),
        ])
        let rows = try await opened.rows("""
            SELECT status, attempts, leased, last_status, length(last_error), delivered_at IS NOT NULL
            FROM webhook_deliveries ORDER BY id
            """)
        #expect(rows == [
            ["delivered", "1", "0", "204", nil, "1"],
            ["pending", "1", "0", "500", "8", "0"],
            ["failed", "1", "0", nil, "500", "0"],
            ["pending", "0", "0", nil, nil, "0"],
        ])
        #expect(try await store.pendingWebhookDeliveries() == 2)
        let due = try await store.claimWebhookDeliveries(
            webhookID: target.id, now: Date().addingTimeInterval(1), leaseUntil: later, limit: 10)
        #expect(due.map(\.id) == [claimed[3].id], "the released one is due at once, the retried one later")
    }

    @Test("deliveries are listed newest first, by status; a failed one is retried with a fresh schedule, a delivered one is not",
          arguments: StoreKind.underTest)
    func deliveriesAndRetry(_ kind: StoreKind) async throws {
        let (opened, webhook, _) = try await prepared(kind)
        try await queue(2, in: opened)
        let worker = try opened.as((any WebhookDeliveryStore).self)
        let admin = try opened.as((any WebhookStore).self)
        let target = try #require(try await worker.activeWebhookTargets().first)
        let claimed = try await worker.claimWebhookDeliveries(
            webhookID: target.id, now: Date(), leaseUntil: Date().addingTimeInterval(60), limit: 10)
        try await worker.recordWebhookAttempts([
            (claimed[0].id, .delivered(status: 200, at: Self.now)), (claimed[1].id, .failed(status: 410, error: "gone")),
        ])
        let all = try await admin.webhookDeliveries(status: nil, limit: 10)
        #expect(all.map(\.id) == claimed.map(\.publicID).reversed())
        #expect(all.allSatisfy { $0.webhookID == webhook.id && $0.listSlug == "news" && $0.type == .bounced })
        let failed = try await admin.webhookDeliveries(status: .failed, limit: 10)
        #expect(failed.map(\.id) == [claimed[1].publicID])
        #expect(failed.first?.lastStatus == 410 && failed.first?.lastError == "gone" && failed.first?.nextAttemptAt == nil)
        #expect(all.first { $0.status == .delivered }?.deliveredAt == Self.now)
        #expect(try await admin.webhookDeliveries(status: nil, limit: 1).count == 1)

        let retryAt = Date(timeIntervalSince1970: 1_900_000_000)
        let retried = try await admin.retryWebhookDelivery(id: claimed[1].publicID, at: retryAt)
        #expect(retried.status == .pending && retried.nextAttemptAt == retryAt && retried.attempts == 1)
        await #expect(throws: WebhookError.alreadyDelivered(claimed[0].publicID)) {
            try await admin.retryWebhookDelivery(id: claimed[0].publicID, at: retryAt)
        }
        await #expect(throws: WebhookError.unknownDelivery("msg_nope")) {
            try await admin.retryWebhookDelivery(id: "msg_nope", at: retryAt)
        }
    }

    @Test("removing a receiver fails what was waiting for it, records webhook_removed, and stops its deliveries",
          arguments: StoreKind.underTest)
    func removed(_ kind: StoreKind) async throws {
        let (opened, webhook, _) = try await prepared(kind)
        try await queue(2, in: opened)
        let admin = try opened.as((any WebhookStore).self)
        let removed = try await admin.removeWebhook(id: webhook.id, source: .cli, at: Self.now)
        #expect(removed.removedAt == Self.now && removed.pending == 0 && removed.failed == 2)
        #expect(try await admin.webhooks() == [removed])
        #expect(try await opened.rows("SELECT DISTINCT status, last_error FROM webhook_deliveries") == [["failed", "the webhook was removed"]])
        #expect(try await opened.value("SELECT detail FROM events WHERE type = 'webhook_removed'")
            == #"{"host":"127.0.0.1","webhook_id":"\#(webhook.id)"}"#)
        #expect(try await opened.as((any WebhookDeliveryStore).self).activeWebhookTargets().isEmpty)
        let failed = try #require(try await admin.webhookDeliveries(status: .failed, limit: 1).first)
        await #expect(throws: WebhookError.webhookRemoved(webhook.id)) {
            try await admin.retryWebhookDelivery(id: failed.id, at: Self.now)
        }
        await #expect(throws: WebhookError.unknownWebhook(webhook.id)) {
            try await admin.removeWebhook(id: webhook.id, source: .cli, at: Self.now)
        }
    }

    // MARK: PostgreSQL: several servers on one queue

    /// Two servers on one fresh PostgreSQL database; nil without a server.
    func twoServers() async throws -> (PostgresStore, PostgresStore)? {
        guard let url = try PostgresTestServer.freshDatabaseURL() else { return nil }
        let first = try await PostgresStore.open(url: url)
        _ = try await first.migrate()
        return (first, try await PostgresStore.open(url: url))
    }

    @Test("a server's start releases its own leases and expired ones, never another live server's",
          .enabled(if: StoreKind.underTest.contains(.postgres)))
    func releaseOwnLeases() async throws {
        let (one, two) = try #require(try await twoServers())
        defer { one.close(); two.close() }
        _ = try await one.createList(try .sample("news"), source: .cli)
        _ = try await WebhookRegistry(store: one).add(url: "http://127.0.0.1:9/h", list: ListSlug("news"), types: [], source: .cli)
        for n in 0..<3 {
            try await one.executeForTests("""
                INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail)
                VALUES (now(), 'bounced', 1, '\(String(repeating: "\(n)", count: 64))', 'cli', '{}')
                """)
        }
        let target = try #require(try await one.activeWebhookTargets().first)
        let now = Date()
        let mine = try await one.claimWebhookDeliveries(webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(600), limit: 1)
        let theirs = try await two.claimWebhookDeliveries(webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(600), limit: 1)
        let expired = try await two.claimWebhookDeliveries(webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(-1), limit: 1)
        #expect(mine.count == 1 && theirs.count == 1 && expired.count == 1)
        #expect(try await one.releaseWebhookLeases() == 2, "its own, and the one whose lease ran out")
        let leased = try await one.inspect("SELECT id FROM webhook_deliveries WHERE leased")
        #expect(leased == [[String(theirs[0].id)]], "the other server's live lease stays")
        // The other server's outcome is its own to record.
        try await one.recordWebhookAttempts([(theirs[0].id, .delivered(status: 200, at: now))])
        #expect(try await one.inspect("SELECT status FROM webhook_deliveries WHERE id = \(theirs[0].id)") == [["pending"]])
        try await two.recordWebhookAttempts([(theirs[0].id, .delivered(status: 200, at: now))])
        #expect(try await one.inspect("SELECT status FROM webhook_deliveries WHERE id = \(theirs[0].id)") == [["delivered"]])
    }

    @Test("pruning deletes the deliveries delivered before a date and keeps failed and pending ones",
          arguments: StoreKind.underTest)
    func prune(_ kind: StoreKind) async throws {
        let (opened, _, _) = try await prepared(kind)
        try await queue(4, in: opened)
        let store = try opened.as((any WebhookDeliveryStore).self)
        let target = try #require(try await store.activeWebhookTargets().first)
        let claimed = try await store.claimWebhookDeliveries(
            webhookID: target.id, now: Date(), leaseUntil: Date().addingTimeInterval(60), limit: 4)
        let old = Date(timeIntervalSince1970: 1_700_000_000), recent = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.recordWebhookAttempts([
            (claimed[0].id, .delivered(status: 200, at: old)), (claimed[1].id, .delivered(status: 200, at: recent)),
            (claimed[2].id, .failed(status: 500, error: "no")),
        ])
        let pruned = try await store.pruneWebhookDeliveries(
            deliveredBefore: Date(timeIntervalSince1970: 1_750_000_000))
        #expect(pruned == 1)
        #expect(try await opened.rows("SELECT status FROM webhook_deliveries ORDER BY id") == [["delivered"], ["failed"], ["pending"]])
    }
}
