// Specification of list storage: what `lists create` persists and records.
import Foundation
import GRDB
import Testing
@testable import ListgateCore

@Suite("Lists")
struct ListStoreTests {
    @Test("a created list reads back with every field")
    func roundTrip() async throws {
        let database = try await MigratedDatabase.make()
        let new = try NewList(
            slug: ListSlug("news-ja"), name: "  週刊お知らせ ", from: Mailbox("編集部 <news@example.org>"),
            replyTo: EmailAddress("support@example.org"), locale: .ja,
            allowedAddresses: [EmailAddress("help@example.org")])
        let created = try await database.store.createList(new, source: .cli)
        let read = try #require(try await database.store.list(ListSlug("news-ja")))
        #expect(read == created)
        #expect(read.name == "週刊お知らせ")
        #expect(read.from.displayName == "編集部")
        #expect(read.from.address.entered == "news@example.org")
        #expect(read.replyTo?.entered == "support@example.org")
        #expect(read.allowedAddresses.map(\.entered) == ["help@example.org"])
    }

    @Test("creating a list records a list_created event in the same transaction")
    func recordsEvent() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample(), source: .cli)
        let row = try database.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT type, list_id, source, detail FROM events")
        }
        #expect(row?["type"] == "list_created")
        #expect(row?["list_id"] == list.id)
        #expect(row?["source"] == "cli")
        #expect(row?["detail"] == #"{"slug":"news"}"#)
    }

    @Test("a duplicate slug is refused and changes nothing")
    func duplicateSlug() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample(), source: .cli)
        await #expect(throws: DomainError.duplicateSlug(try ListSlug("news"))) {
            try await database.store.createList(try .sample(name: "other"), source: .cli)
        }
        let counts = try await database.store.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM lists"), try Int.fetchOne(db, sql: "SELECT count(*) FROM events"))
        }
        #expect(counts.0 == 1)
        #expect(counts.1 == 1)
    }

    @Test("events are chained: each stores the hash of the one before")
    func eventsAreChained() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("a"), source: .cli)
        _ = try await database.store.createList(try .sample("b"), source: .cli)
        let rows = try database.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM events ORDER BY id")
        }
        #expect(rows.count == 2)
        #expect(rows[0]["prev_hash"] == EventLedger.genesisHash)
        #expect(rows[1]["prev_hash"] == (rows[0]["hash"] as String))
        for row in rows {
            let recomputed = EventLedger.chainHash(
                prevHash: row["prev_hash"], occurredAt: row["occurred_at"], type: row["type"], listID: row["list_id"],
                addressHash: row["address_hash"], source: row["source"], consentVersion: row["consent_version"],
                detail: row["detail"])
            #expect(recomputed == (row["hash"] as String))
        }
    }

    @Test("member counts are zero for a new list")
    func emptyCounts() async throws {
        let database = try await MigratedDatabase.make()
        let list = try await database.store.createList(try .sample(), source: .cli)
        #expect(try await database.store.memberCounts(listID: list.id) == MemberCounts())
    }

    @Test("list names are trimmed and must be non-empty, single-line and at most 200 characters",
          arguments: ["", "   ", "a\nb", "a\rBcc: x", "a\u{2028}b", String(repeating: "あ", count: 201),
                      String(repeating: "e\u{301}", count: 101)])
    func invalidNames(_ name: String) throws {
        #expect(throws: DomainError.self) { try NewList.sample(name: name) }
    }

    @Test("a list's name may be 200 code points, counted as SQLite counts them")
    func longestName() async throws {
        let database = try await MigratedDatabase.make()
        let name = String(repeating: "e\u{301}", count: 100)
        let list = try await database.store.createList(try .sample(name: name), source: .cli)
        #expect(list.name == name)
    }

    @Test("a From display name over 200 code points is refused (the mailbox parser refuses line breaks itself)")
    func longFromName() throws {
        let from = try Mailbox("\"\(String(repeating: "e\u{301}", count: 101))\" <news@example.org>")
        #expect(throws: DomainError.invalidFromName("longer than 200 characters")) {
            try NewList(slug: ListSlug("news"), name: "News", from: from)
        }
        #expect(throws: EmailAddressError.self) { try Mailbox("\"News\u{2028}Bcc\" <news@example.org>") }
    }

    @Test("slugs follow [a-z0-9][a-z0-9-]{0,62}", arguments: [
        ("news", true), ("n", true), ("0-day", true), ("a-b-c", true), (String(repeating: "a", count: 63), true),
        ("", false), ("-news", false), ("News", false), ("news letter", false), ("news_letter", false),
        ("ニュース", false), (String(repeating: "a", count: 64), false), ("news/../x", false),
    ])
    func slugs(_ text: String, _ valid: Bool) {
        #expect(((try? ListSlug(text)) != nil) == valid)
    }
}
