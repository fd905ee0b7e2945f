// Specification of the outbox's storage, on every store: queueing, claiming due messages
// side by side (leavers' mail, confirmations), the outcomes of a send, pausing, and the
// operator's discard and release. On PostgreSQL several servers share the queue: claims
// are disjoint, a dead server's expired claim is taken over, a live one never is.
// (The worker's own behaviour, with a real SMTP server, is specified in ListgateMailTests.)
import Foundation
import ListgateCore
import ListgatePostgres
import ListgateTestSupport
import Testing

@Suite("Outbox, on every store")
struct OutboxConformanceTests {
    struct Prepared {
        let opened: StoreUnderTest
        let store: any OutboxStore
        let list: MailingList
    }

    func prepared(_ kind: StoreKind) async throws -> Prepared {
        let opened = try await StoreUnderTest.open(kind)
        let list = try await opened.as((any ListStore).self).createList(try .sample(), source: .cli)
        return Prepared(opened: opened, store: try opened.as((any OutboxStore).self), list: list)
    }

    static func message(_ number: Int, list: MailingList, kind: AutoReplyKind = .confirmation) throws -> NewOutboxMessage {
        NewOutboxMessage(
            messageID: "<m\(number)@lists.example.org>", listID: list.id, kind: kind,
            recipient: try EmailAddress("reader\(number)@example.net"), raw: Array("Subject: \(number)\r\n\r\nbody\r\n".utf8))
    }

    @discardableResult
    func queue(_ count: Int, _ prepared: Prepared, kind: AutoReplyKind = .confirmation, from first: Int = 0) async throws -> [Int64] {
        var ids: [Int64] = []
        for number in first..<(first + count) {
            ids.append(try await prepared.store.enqueue(try Self.message(number, list: prepared.list, kind: kind)))
        }
        return ids
    }

    func statuses(_ prepared: Prepared) async throws -> [String] {
        try await prepared.opened.rows("SELECT status FROM outbox ORDER BY id").map { $0[0] ?? "" }
    }

    @Test("a queued message is claimed once, whole: its bytes, recipient and kind as queued, now sending", arguments: StoreKind.underTest)
    func claimOnce(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let new = try Self.message(1, list: prepared.list)
        let id = try await prepared.store.enqueue(new)
        let claimed = try await prepared.store.claimDueMessages(now: Date(), limit: 10, confirmations: true)
        #expect(claimed.map(\.id) == [id])
        let message = try #require(claimed.first)
        #expect(message.raw == new.raw)
        #expect(message.recipient == "reader1@example.net")
        #expect(message.messageID == new.messageID)
        #expect(message.kind == .confirmation)
        #expect(message.status == .sending)
        #expect(message.attempts == 0)
        #expect(try await prepared.store.claimDueMessages(now: Date(), limit: 10, confirmations: true).isEmpty)
        #expect(try await statuses(prepared) == ["sending"])
    }

    @Test("a claim takes one side only, due messages only, oldest first, up to its limit", arguments: StoreKind.underTest)
    func claimSidesAndOrder(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let confirmations = try await queue(3, prepared)
        let receipts = try await queue(2, prepared, kind: .receipt, from: 10)
        let links = try await queue(1, prepared, kind: .unsubscribeLink, from: 20)
        // Not yet due: retried for later.
        let first = try #require(try await prepared.store.claimDueMessages(now: Date(), limit: 1, confirmations: true).first)
        #expect(first.id == confirmations[0])
        try await prepared.store.scheduleRetry(first.id, error: "421 later", at: Date().addingTimeInterval(3600))

        let leavers = try await prepared.store.claimDueMessages(now: Date(), limit: 10, confirmations: false)
        #expect(leavers.map(\.id) == receipts + links)
        let two = try await prepared.store.claimDueMessages(now: Date(), limit: 2, confirmations: true)
        #expect(two.map(\.id) == [confirmations[1], confirmations[2]])
        #expect(try await prepared.store.claimDueMessages(now: Date(), limit: 10, confirmations: true).isEmpty)
        let later = try await prepared.store.claimDueMessages(
            now: Date().addingTimeInterval(7200), limit: 10, confirmations: true)
        #expect(later.map(\.id) == [confirmations[0]])
        #expect(later.first?.attempts == 1)
        #expect(later.first?.lastError == "421 later")
    }

    @Test("sent, retry, failed and quarantined settle a claimed message and record what happened", arguments: StoreKind.underTest)
    func outcomes(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let store = prepared.store
        let ids = try await queue(4, prepared)
        _ = try await store.claimDueMessages(now: Date(), limit: 4, confirmations: true)
        let sentAt = Date(timeIntervalSince1970: 1_795_000_000.125)
        try await store.markSent(ids[0], at: sentAt)
        try await store.scheduleRetry(ids[1], error: String(repeating: "x", count: 1500), at: Date().addingTimeInterval(60))
        try await store.markFailed(ids[2], error: "550 no such user")
        try await store.quarantine(ids[3], reason: "body contains 1 address other than the recipient")
        #expect(try await statuses(prepared) == ["sent", "queued", "failed", "quarantined"])
        let rows = try await prepared.opened.rows(
            "SELECT attempts, sent_at, length(last_error), quarantine_reason FROM outbox ORDER BY id")
        #expect(rows == [
            ["1", Timestamp.string(sentAt), nil, nil],
            ["1", nil, "1000", nil],
            ["1", nil, "16", nil],
            ["0", nil, nil, "body contains 1 address other than the recipient"],
        ])
        #expect(try await store.messagesSent(since: sentAt.addingTimeInterval(-1)) == 1)
        #expect(try await store.messagesSent(since: sentAt) == 0)
        let summary = try await store.outboxSummary()
        #expect(summary.counts[.sent] == 1 && summary.counts[.queued] == 1 && summary.counts[.failed] == 1)
        #expect(summary.counts[.quarantined] == 1 && summary.counts[.sending] == 0 && summary.counts[.discarded] == 0)
        #expect(!summary.paused && summary.pauseReason == nil)
    }

    @Test("an outcome for a message no longer sending (discarded meanwhile) changes nothing", arguments: StoreKind.underTest)
    func outcomeOnlyWhileSending(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let id = try #require(try await queue(1, prepared).first)
        try await prepared.store.discardMessage(id, source: .cli)
        try await prepared.store.markSent(id, at: Date())
        try await prepared.store.markFailed(id, error: "550")
        try await prepared.store.quarantine(id, reason: "late")
        #expect(try await statuses(prepared) == ["discarded"])
        #expect(try await prepared.opened.rows("SELECT attempts, sent_at FROM outbox") == [["0", nil]])
    }

    @Test("requeueing named claims puts back only those; without names, every claim of this server", arguments: StoreKind.underTest)
    func requeue(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let ids = try await queue(3, prepared)
        _ = try await prepared.store.claimDueMessages(now: Date(), limit: 3, confirmations: true)
        #expect(try await prepared.store.requeueClaimed(ids: [ids[1]]) == 1)
        #expect(try await prepared.store.requeueClaimed(ids: []) == 0)
        #expect(try await statuses(prepared) == ["sending", "queued", "sending"])
        #expect(try await prepared.store.requeueClaimed(ids: nil) == 2)
        #expect(try await statuses(prepared) == ["queued", "queued", "queued"])
        let again = try await prepared.store.claimDueMessages(now: Date(), limit: 3, confirmations: true)
        #expect(again.map(\.id) == ids)
        #expect(again.allSatisfy { $0.attempts == 0 })
    }

    @Test("pausing is stored with its reason and recorded once; resuming likewise", arguments: StoreKind.underTest)
    func pauseAndResume(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let store = prepared.store
        #expect(try await !store.isOutboxPaused())
        try await store.setOutboxPaused(true, reason: "maintenance", source: .cli)
        try await store.setOutboxPaused(true, reason: "again", source: .cli)
        #expect(try await store.isOutboxPaused())
        let summary = try await store.outboxSummary()
        #expect(summary.paused && summary.pauseReason == "maintenance")
        try await store.setOutboxPaused(false, reason: nil, source: .cli)
        try await store.setOutboxPaused(false, reason: nil, source: .cli)
        #expect(try await !store.isOutboxPaused())
        #expect(try await store.outboxSummary().pauseReason == nil)
        let events = try await prepared.opened.rows("SELECT type, source, detail FROM events WHERE type LIKE 'outbox%' ORDER BY id")
        #expect(events == [["outbox_paused", "cli", #"{"reason":"maintenance"}"#], ["outbox_resumed", "cli", "{}"]])
    }

    @Test("discard and release move only messages in the states they allow, each with its event", arguments: StoreKind.underTest)
    func operatorTransitions(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let store = prepared.store
        let ids = try await queue(3, prepared)
        _ = try await store.claimDueMessages(now: Date(), limit: 3, confirmations: true)
        try await store.quarantine(ids[0], reason: "guard")
        try await store.markSent(ids[1], at: Date())
        await #expect(throws: DomainError.messageNotInState(ids[1], .sent, allowed: [.queued, .failed, .quarantined])) {
            try await store.discardMessage(ids[1], source: .cli)
        }
        await #expect(throws: DomainError.messageNotInState(ids[2], .sending, allowed: [.quarantined])) {
            try await store.releaseQuarantined(ids[2], source: .cli)
        }
        await #expect(throws: DomainError.messageNotFound(999)) { try await store.discardMessage(999, source: .cli) }
        try await store.releaseQuarantined(ids[0], source: .cli)
        #expect(try await statuses(prepared) == ["queued", "sent", "sending"])
        #expect(try await prepared.opened.rows("SELECT quarantine_reason FROM outbox WHERE id = \(ids[0])") == [[nil]])
        try await store.discardMessage(ids[0], source: .cli)
        let hash = try await prepared.opened.value("SELECT address_hash FROM outbox WHERE id = \(ids[0])")
        let events = try await prepared.opened.rows(
            "SELECT type, list_id, address_hash, detail FROM events WHERE type LIKE 'message%' ORDER BY id")
        #expect(events == [
            ["message_released", String(prepared.list.id), hash, #"{"from_status":"quarantined","outbox_id":"\#(ids[0])"}"#],
            ["message_discarded", String(prepared.list.id), hash, #"{"from_status":"queued","outbox_id":"\#(ids[0])"}"#],
        ])
    }

    @Test("entries come newest first, of one state or all, up to the limit", arguments: StoreKind.underTest)
    func entries(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let store = prepared.store
        let ids = try await queue(4, prepared)
        _ = try await store.claimDueMessages(now: Date(), limit: 1, confirmations: true)
        try await store.markFailed(ids[0], error: "550 refused")
        #expect(try await store.outboxEntries(status: nil, limit: 3).map(\.id) == [ids[3], ids[2], ids[1]])
        let failed = try await store.outboxEntries(status: .failed, limit: 10)
        #expect(failed.map(\.id) == [ids[0]])
        let entry = try #require(failed.first)
        #expect(entry.listSlug == "news" && entry.kind == .confirmation && entry.recipient == "reader0@example.net")
        #expect(entry.attempts == 1 && entry.lastError == "550 refused" && entry.sentAt == nil)
        #expect(try await store.messages(status: .queued).map(\.id) == [ids[1], ids[2], ids[3]])
        #expect(try await store.messagesQueued(since: Date().addingTimeInterval(-60)) == 4)
        #expect(try await store.messagesQueued(since: Date().addingTimeInterval(60)) == 0)
    }

    @Test("two workers claiming at once get disjoint messages, and every message once", arguments: StoreKind.underTest)
    func concurrentClaimsAreDisjoint(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let ids = try await queue(40, prepared)
        // On PostgreSQL, two servers: two stores on one database.
        let second = try await PostgresPeer.second(of: prepared.opened)
        let stores: [any OutboxStore] = [prepared.store, second ?? prepared.store]
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for index in 0..<8 {
                let store = stores[index % 2]
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claimDueMessages(now: Date(), limit: 3, confirmations: true)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == ids.count, "no message claimed twice")
        #expect(Set(all) == Set(ids))
        #expect(try await prepared.opened.count("outbox", where: "status = 'sending'") == 40)
    }
}

/// What only PostgreSQL has: several servers on one queue, their claims named and leased.
@Suite("Outbox claims shared by several servers (PostgreSQL)", .enabled(if: PostgresTestServer.isConfigured, "\(PostgresTestServer.skipReason)"))
struct OutboxSharedClaimTests {
    /// Two stores, two servers, on one fresh database with one list and `count` confirmations.
    func twoServers(_ count: Int, firstLease: Duration = .seconds(60)) async throws -> (PostgresStore, PostgresStore, [Int64]) {
        let url = try #require(try PostgresTestServer.freshDatabaseURL())
        var first = try await PostgresStore.open(url: url)
        _ = try await first.migrate()
        first.claimLease = firstLease
        let second = try await PostgresStore.open(url: url)
        let list = try await first.createList(try .sample(), source: .cli)
        var ids: [Int64] = []
        for number in 0..<count {
            ids.append(try await first.enqueue(try OutboxConformanceTests.message(number, list: list)))
        }
        return (first, second, ids)
    }

    @Test("a claim whose lease ended (its server died) is taken over by another server")
    func expiredClaimTakenOver() async throws {
        let (first, second, ids) = try await twoServers(2, firstLease: .milliseconds(200))
        #expect(try await first.claimDueMessages(now: Date(), limit: 2, confirmations: true).map(\.id) == ids)
        try await Task.sleep(for: .milliseconds(500))
        let taken = try await second.claimDueMessages(now: Date(), limit: 10, confirmations: true)
        #expect(taken.map(\.id) == ids)
        // The first server's late outcomes no longer count: the messages are not its own.
        try await first.markFailed(ids[0], error: "550 from a server presumed dead")
        try await first.scheduleRetry(ids[1], error: "421", at: Date())
        #expect(try await first.requeueClaimed(ids: ids) == 0)
        #expect(try await second.messages(status: .sending).map(\.id) == ids)
        try await second.markFailed(ids[0], error: "550 refused")
        #expect(try await second.messages(status: .failed).first?.lastError == "550 refused")
    }

    @Test("a live claim of another server is neither taken over nor requeued by a server starting up")
    func liveClaimKept() async throws {
        let (first, second, ids) = try await twoServers(3)
        #expect(try await first.claimDueMessages(now: Date(), limit: 2, confirmations: true).map(\.id) == [ids[0], ids[1]])
        #expect(try await second.claimDueMessages(now: Date(), limit: 10, confirmations: true).map(\.id) == [ids[2]])
        // The worker's start (recoverFromPreviousStop) on the second server: its own only.
        #expect(try await second.requeueClaimed(ids: nil) == 1)
        #expect(try await second.requeueClaimed(ids: [ids[0], ids[1]]) == 0)
        try await second.markFailed(ids[0], error: "not mine")
        #expect(try await first.messages(status: .sending).map(\.id) == [ids[0], ids[1]])
        try await first.markSent(ids[0], at: Date())
        #expect(try await first.messages(status: .sent).map(\.id) == [ids[0]])
    }

    @Test("a server that settles messages keeps the lease on the rest of its batch")
    func progressRenewsLease() async throws {
        let (first, second, ids) = try await twoServers(3, firstLease: .milliseconds(800))
        _ = try await first.claimDueMessages(now: Date(), limit: 3, confirmations: true)
        for id in ids.prefix(2) {
            try await Task.sleep(for: .milliseconds(500))
            try await first.markSent(id, at: Date())
        }
        // 1 s after the claim, its lease (0.8 s) would have ended without the renewals.
        #expect(try await second.claimDueMessages(now: Date(), limit: 10, confirmations: true).isEmpty)
        try await first.markSent(ids[2], at: Date())
        #expect(try await first.messages(status: .sent).count == 3)
    }
}

/// A second PostgreSQL store on the database of `opened`, as another server would open it;
/// nil for SQLite (one server per file).
enum PostgresPeer {
    static func second(of opened: StoreUnderTest) async throws -> PostgresStore? {
        guard let url = opened.postgresURL else { return nil }
        return try await PostgresStore.open(url: url)
    }
}
