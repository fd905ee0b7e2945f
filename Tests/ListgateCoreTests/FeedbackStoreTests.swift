// Specification of the feedback room below the HTTP route: what `Feedback.apply` refuses
// by itself, what the ledger keeps of a report, and a batch that takes more than one
// transaction, on a real SQLite file.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Feedback store")
struct FeedbackStoreTests {
    let when = Date(timeIntervalSince1970: 1_795_000_000)

    func prepared() async throws -> (MigratedDatabase, Feedback) {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        for email in ["a@example.net", "b@example.net"] {
            _ = try await database.store.addSubscriber(
                try NewSubscriber(address: EmailAddress(email), list: ListSlug("news"), confirmed: true), source: .cli, at: when)
        }
        return (database, Feedback(store: database.store))
    }

    func status(_ email: String, in database: MigratedDatabase) async throws -> String? {
        try await database.store.pool.read { db in
            try String.fetchOne(db, sql: """
                SELECT s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = ?
                """, arguments: [email])
        }
    }

    @Test("the ledger keeps no address of a report: every word holding an @ is replaced, keys are cut to [a-z0-9_]")
    func ledgerDetailHasNoAddress() {
        let event = FeedbackEvent(
            id: "<0100018c@email.amazonses.com>", type: .hardBounce, recipient: .email("a@example.net"), occurredAt: when,
            detail: ["Diagnostic-Code": "smtp; 550 5.1.1 <a@example.net>:\tuser unknown", "status": "5.1.1", "who": "ａ＠example.jp"])
        let detail = Feedback.ledgerDetail(event)
        #expect(detail["report"] == "hard_bounce")
        #expect(detail["report_id"] == "(address)")
        #expect(detail["detail.diagnosticcode"] == "smtp; 550 5.1.1 (address) user unknown")
        #expect(detail["detail.status"] == "5.1.1")
        #expect(detail["detail.who"] == "(address)")
        #expect(!detail.values.contains { $0.contains("@") || $0.contains("＠") })
    }

    @Test("an empty or over-long id, or an email that is not an address, is invalid at its index; the rest is applied")
    func invalidEventsByIndex() async throws {
        let (database, feedback) = try await prepared()
        let events = [
            FeedbackEvent(id: "", type: .hardBounce, recipient: .email("a@example.net"), occurredAt: when),
            FeedbackEvent(id: String(repeating: "x", count: 201), type: .hardBounce, recipient: .email("a@example.net"), occurredAt: when),
            FeedbackEvent(id: "ok", type: .hardBounce, recipient: .email("b@example.net"), occurredAt: when),
            FeedbackEvent(id: "bad-address", type: .complaint, recipient: .email("a@@example.net"), occurredAt: when),
        ]
        let outcome = try await feedback.apply(events, toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 1)
        #expect(outcome.invalid.map(\.index) == [0, 1, 3])
        #expect(try await status("a@example.net", in: database) == "active")
        #expect(try await status("b@example.net", in: database) == "bounced")
    }

    @Test("an unknown list is an error and changes nothing")
    func unknownList() async throws {
        let (_, feedback) = try await prepared()
        await #expect(throws: DomainError.listNotFound("nope")) {
            try await feedback.apply(
                [FeedbackEvent(id: "1", type: .hardBounce, recipient: .email("a@example.net"), occurredAt: when)],
                toList: ListSlug("nope"), source: EventSource("api:test"))
        }
    }

    /// 32 hex digits that no subscription has (theirs are random).
    static func recipientID(_ number: Int) -> String {
        let hex = String(number, radix: 16)
        return String(repeating: "f", count: 32 - hex.count) + hex
    }

    @Test("a batch longer than one transaction applies every report once; an id repeated across transactions is a duplicate")
    func batchAcrossTransactions() async throws {
        let (database, feedback) = try await prepared()
        let batch = SQLiteStore.feedbackBatch
        var events = (0..<batch).map { number in
            FeedbackEvent(id: "n-\(number)", type: .hardBounce, recipient: .recipientID(Self.recipientID(number)), occurredAt: when)
        }
        events[0] = FeedbackEvent(id: "twice", type: .softBounce, recipient: .email("a@example.net"), occurredAt: when)
        events += [
            FeedbackEvent(id: "twice", type: .complaint, recipient: .email("a@example.net"), occurredAt: when),
            FeedbackEvent(id: "last", type: .complaint, recipient: .email("b@example.net"), occurredAt: when),
        ]
        let outcome = try await feedback.apply(events, toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 2)
        #expect(outcome.unknown == batch - 1)
        #expect(outcome.duplicates == 1)
        #expect(try await status("a@example.net", in: database) == "active", "one soft bounce only; the complaint was a duplicate")
        #expect(try await status("b@example.net", in: database) == "complained")
        let recorded = try await database.store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM feedback_reports") }
        #expect(recorded == batch + 1)
    }
}
