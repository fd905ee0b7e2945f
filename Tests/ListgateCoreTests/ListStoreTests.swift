// Specification of list storage: what `lists create` persists and records.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

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

    // MARK: Update and archive

    @Test("an update changes the list, the sets included, and returns each changed field with before and after")
    func updateList() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(
            try NewList(slug: ListSlug("news"), name: "お知らせ", from: Mailbox("news@example.org"),
                        allowedAddresses: [EmailAddress("help@example.org")], allowedOrigins: ["https://a.example"]),
            source: .cli)
        var change = ListChange()
        change.allowAddresses = [try EmailAddress("desk@example.org")]
        change.disallowOrigins = ["https://a.example"]
        change.identity.contact = .some(try SenderContact("desk@example.org"))
        let (list, changed) = try await database.store.updateList(ListSlug("news"), change, source: .cli)
        #expect(list.allowedAddresses.map(\.entered) == ["desk@example.org", "help@example.org"])
        #expect(list.allowedOrigins.isEmpty)
        #expect(list.senderIdentity.contact == .address(try EmailAddress("desk@example.org")))
        #expect(changed == [
            ListFieldChange(field: "allowed_addresses", before: "help@example.org", after: "desk@example.org, help@example.org"),
            ListFieldChange(field: "allowed_origins", before: "https://a.example", after: nil),
            ListFieldChange(field: "contact", before: nil, after: "desk@example.org"),
        ])
        #expect(try await database.store.list(ListSlug("news")) == list, "what was returned is what is stored")
    }

    @Test("archiving sets archived_at and records list_archived; a second archive is refused and changes nothing")
    func archive() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample(), source: .cli)
        let archived = try await database.store.archiveList(ListSlug("news"), source: .cli)
        #expect(archived.isArchived)
        await #expect(throws: DomainError.listArchived("news")) {
            try await database.store.archiveList(ListSlug("news"), source: .cli)
        }
        #expect(try await database.store.list(ListSlug("news"))?.archivedAt == archived.archivedAt)
        let types = try await database.store.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM events ORDER BY id") }
        #expect(types == ["list_created", "list_archived"])
    }

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
