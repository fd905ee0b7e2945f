// Specification of lists beyond the store (the store's behaviour, on every store, is in
// Tests/ListgateStoreTests/ListStoreConformanceTests.swift): names, slugs, the SQLite
// schema's own checks, and the sealed chain over list events.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Lists")
struct ListStoreTests {
    @Test("sealed events are chained: each chain row holds the hash of the one before and of its event's contents")
    func eventsAreChained() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("a"), source: .cli)
        _ = try await database.store.createList(try .sample("b"), source: .cli)
        #expect(try await database.store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event_chain") } == 0,
                "appending hashes nothing")
        try await database.seal()
        let rows = try database.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event_chain c JOIN events e ON e.id = c.event_id ORDER BY c.position")
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

    @Test("list names are trimmed and must be non-empty, single-line and at most 200 characters",
          arguments: ["", "   ", "a\nb", "a\rBcc: x", "a\u{2028}b", String(repeating: "あ", count: 201),
                      String(repeating: "e\u{301}", count: 101)])
    func invalidNames(_ name: String) throws {
        #expect(throws: DomainError.self) { try NewList.sample(name: name) }
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

    // MARK: Update and archive

    @Test("the schema refuses a line break in a sender identity written around the CLI")
    func identityCheckedBySchema() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample(), source: .cli)
        #expect(throws: DatabaseError.self) {
            try database.rawConnection().write { db in
                try db.execute(sql: "UPDATE lists SET legal_name = ? WHERE slug = 'news'", arguments: ["A\nBcc: x@example.net"])
            }
        }
        #expect(throws: DatabaseError.self) {
            try database.rawConnection().write { db in
                try db.execute(sql: "UPDATE lists SET contact = 'call us' WHERE slug = 'news'")
            }
        }
    }
}
