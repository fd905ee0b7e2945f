// Specification of the feedback room's store, on every store (Feedback.swift says what
// each report does): the changes, the suppressions and the events a report makes, the
// soft-bounce policy counted in its window, and report ids applied once per list, across
// transactions and across requests.
import Foundation
import ListgateCore
@testable import ListgatePostgres
@testable import ListgateSQLite
import Testing

@Suite("Feedback, on every store")
struct FeedbackConformanceTests {
    static let when = Date(timeIntervalSince1970: 1_795_000_000)

    /// A list `news` with two active members.
    func prepared(_ kind: StoreKind) async throws -> (StoreUnderTest, Feedback) {
        let opened = try await StoreUnderTest.open(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        for email in ["a@example.net", "b@example.net"] {
            try await opened.seedMember(email)
        }
        return (opened, Feedback(store: try opened.as((any FeedbackStore).self)))
    }

    func report(
        _ id: String, _ type: FeedbackType, _ email: String, at date: Date = when, detail: [String: String] = [:]
    ) -> FeedbackEvent {
        FeedbackEvent(id: id, type: type, recipient: .email(email), occurredAt: date, detail: detail)
    }

    @Test("an empty or over-long id, or an email that is not an address, is invalid at its index; the rest is applied",
          arguments: StoreKind.underTest)
    func invalidEventsByIndex(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let events = [
            report("", .hardBounce, "a@example.net"),
            report(String(repeating: "x", count: 201), .hardBounce, "a@example.net"),
            report("ok", .hardBounce, "b@example.net"),
            report("bad-address", .complaint, "a@@example.net"),
        ]
        let outcome = try await feedback.apply(events, toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 1)
        #expect(outcome.invalid.map(\.index) == [0, 1, 3])
        #expect(try await opened.status("a@example.net") == "active")
        #expect(try await opened.status("b@example.net") == "bounced")
    }

    @Test("an unknown list is an error and changes nothing", arguments: StoreKind.underTest)
    func unknownList(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        await #expect(throws: DomainError.listNotFound("nope")) {
            try await feedback.apply([report("1", .hardBounce, "a@example.net")], toList: ListSlug("nope"), source: EventSource("api:test"))
        }
        #expect(try await opened.count("feedback_reports") == 0)
    }

    @Test("a hard bounce ends the subscription as bounced and suppresses the address for the list, in one event naming the suppression",
          arguments: StoreKind.underTest)
    func hardBounce(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let outcome = try await feedback.apply(
            [report("r1", .hardBounce, "a@example.net", detail: ["status": "5.1.1"])], toList: ListSlug("news"),
            source: EventSource("api:test"))
        #expect(outcome.accepted == 1 && outcome.duplicates == 0 && outcome.unknown == 0)
        #expect(try await opened.status("a@example.net") == "bounced")
        let hash = try await opened.addressHash("a@example.net")
        #expect(try await opened.rows("SELECT reason FROM suppressions WHERE address_hash = '\(hash)'") == [["bounced"]])
        let events = try await opened.rows("SELECT type, address_hash, source, detail FROM events WHERE type <> 'list_created'")
        #expect(events.count == 1)
        #expect(events.first?[0] == "bounced" && events.first?[1] == hash && events.first?[2] == "api:test")
        let detail = try #require(try JSONSerialization.jsonObject(with: Data((events.first?[3] ?? "").utf8)) as? [String: String])
        #expect(detail["suppression"] == "bounced")
        #expect(detail["report"] == "hard_bounce" && detail["report_id"] == "r1" && detail["detail.status"] == "5.1.1")
        #expect(try await opened.value("SELECT unsubscribed_at FROM subscriptions WHERE status = 'bounced'") != nil)
    }

    @Test("a complaint ends the subscription as complained and discards the mail still queued for the address on the list",
          arguments: StoreKind.underTest)
    func complaint(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let hash = try await opened.addressHash("a@example.net")
        for n in 1...2 {
            try await opened.behindTheBack("""
                INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, raw_message, status, attempts,
                                    next_attempt_at, created_at, updated_at)
                VALUES ('<m\(n)@example.org>', (SELECT id FROM lists WHERE slug = 'news'), 'receipt', 'a@example.net',
                        '\(hash)', \(kind == .sqlite ? "X'00'" : "'\\x00'::bytea"), 'queued', 0,
                        '2026-11-21T00:00:00.000Z', '2026-11-21T00:00:00.000Z', '2026-11-21T00:00:00.000Z')
                """)
        }
        _ = try await feedback.apply([report("c1", .complaint, "a@example.net")], toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(try await opened.status("a@example.net") == "complained")
        #expect(try await opened.rows("SELECT reason FROM suppressions") == [["complained"]])
        #expect(try await opened.rows("SELECT status, last_error FROM outbox ORDER BY id")
            == [["discarded", "the recipient complained"], ["discarded", "the recipient complained"]])
        #expect(try await opened.rows("SELECT type FROM events WHERE type <> 'list_created' ORDER BY id")
            == [["complained"], ["message_discarded"], ["message_discarded"]])
    }

    @Test("an unsubscribe report leaves by route sender and suppresses the address, each recorded", arguments: StoreKind.underTest)
    func unsubscribe(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        _ = try await feedback.apply([report("u1", .unsubscribe, "b@example.net")], toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(try await opened.status("b@example.net") == "unsubscribed")
        #expect(try await opened.rows("SELECT reason FROM suppressions") == [["unsubscribed"]])
        let events = try await opened.rows("SELECT type, detail FROM events WHERE type <> 'list_created' ORDER BY id")
        #expect(events.map { $0[0] } == ["unsubscribed", "suppressed"])
        #expect(events.first?[1]?.contains(#""route":"sender""#) == true)
    }

    @Test("soft bounces count within the list's window: the limit-th in the days makes the subscription bounced",
          arguments: StoreKind.underTest)
    func softBounces(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let day: TimeInterval = 86_400
        // The policy is 3 in 15 days: a first bounce 20 days before is outside the window.
        let dates = [Self.when.addingTimeInterval(-20 * day), Self.when.addingTimeInterval(-10 * day), Self.when.addingTimeInterval(-5 * day)]
        for (n, date) in dates.enumerated() {
            _ = try await feedback.apply([report("s\(n)", .softBounce, "a@example.net", at: date)], toList: ListSlug("news"),
                                         source: EventSource("api:test"))
        }
        #expect(try await opened.status("a@example.net") == "active", "never more than two within 15 days: a warning")
        let counted = try await opened.rows("SELECT detail FROM events WHERE type = 'soft_bounced' ORDER BY id").map { row in
            (try? JSONSerialization.jsonObject(with: Data((row[0] ?? "").utf8)) as? [String: String])?["soft_bounces"]
        }
        // Each counts those in the 15 days up to it: the first is out of the third's window.
        #expect(counted == ["1", "2", "2"])
        _ = try await feedback.apply([report("s3", .softBounce, "a@example.net")], toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(try await opened.status("a@example.net") == "bounced", "the third within 15 days is a hard one")
        #expect(try await opened.rows("SELECT type FROM events WHERE type <> 'list_created' ORDER BY id").map { $0[0] }
            == ["soft_bounced", "soft_bounced", "soft_bounced", "soft_bounced", "bounced"])
        #expect(try await opened.count("soft_bounces") == 4)
    }

    @Test("a report about someone who already left is accepted and changes nothing; one naming nobody is unknown",
          arguments: StoreKind.underTest)
    func goneAndUnknown(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        try await opened.seedMember("left@example.net", status: "unsubscribed")
        let outcome = try await feedback.apply(
            [report("g1", .hardBounce, "left@example.net"), report("g2", .hardBounce, "nobody@example.net")],
            toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 1 && outcome.unknown == 1)
        #expect(try await opened.status("left@example.net") == "unsubscribed")
        #expect(try await opened.count("events", where: "type <> 'list_created'") == 0)
    }

    @Test("a report naming its person by recipient id is applied to that subscription", arguments: StoreKind.underTest)
    func byRecipientID(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let recipient = try await opened.seedMember("c@example.net")
        let outcome = try await feedback.apply(
            [FeedbackEvent(id: "x1", type: .hardBounce, recipient: .recipientID(recipient), occurredAt: Self.when)],
            toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 1)
        #expect(try await opened.status("c@example.net") == "bounced")
    }

    @Test("a report id seen before on the list is a duplicate, in a later request too", arguments: StoreKind.underTest)
    func duplicateAcrossRequests(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        _ = try await feedback.apply([report("same", .softBounce, "a@example.net")], toList: ListSlug("news"), source: EventSource("api:test"))
        let again = try await feedback.apply([report("same", .softBounce, "a@example.net")], toList: ListSlug("news"),
                                             source: EventSource("api:test"))
        #expect(again.duplicates == 1 && again.accepted == 0)
        #expect(try await opened.count("soft_bounces") == 1)
    }

    /// 32 hex digits that no subscription has (theirs are random).
    static func recipientID(_ number: Int) -> String {
        let hex = String(number, radix: 16)
        return String(repeating: "f", count: 32 - hex.count) + hex
    }

    @Test("a batch longer than one transaction applies every report once; an id repeated across transactions is a duplicate",
          arguments: StoreKind.underTest)
    func batchAcrossTransactions(_ kind: StoreKind) async throws {
        let (opened, feedback) = try await prepared(kind)
        let batch = kind == .sqlite ? SQLiteStore.feedbackBatch : PostgresStore.feedbackBatch
        var events = (0..<batch).map { number in
            FeedbackEvent(id: "n-\(number)", type: .hardBounce, recipient: .recipientID(Self.recipientID(number)), occurredAt: Self.when)
        }
        events[0] = report("twice", .softBounce, "a@example.net")
        events += [report("twice", .complaint, "a@example.net"), report("last", .complaint, "b@example.net")]
        let outcome = try await feedback.apply(events, toList: ListSlug("news"), source: EventSource("api:test"))
        #expect(outcome.accepted == 2)
        #expect(outcome.unknown == batch - 1)
        #expect(outcome.duplicates == 1)
        #expect(try await opened.status("a@example.net") == "active", "one soft bounce only; the complaint was a duplicate")
        #expect(try await opened.status("b@example.net") == "complained")
        #expect(try await opened.count("feedback_reports") == batch + 1)
    }
}
