// Specification of lists beyond the store (the store's behaviour, on every store, is in
// Tests/ListgateStoreTests/ListStoreConformanceTests.swift; the sealed chain over list
// events in LedgerConformanceTests.swift): names, slugs, the SQLite schema's own checks.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Lists")
struct ListStoreTests {
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
