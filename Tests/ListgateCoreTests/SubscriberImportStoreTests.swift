// Specification of importing into the store: rows merge with what is there, suppression
// wins, nobody who left comes back, every change is an `imported` event with its consent
// note in an intact hash chain, nothing is queued for mail, and running the same file
// again changes nothing (the import is resumable).
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Subscriber import (store)")
struct SubscriberImportStoreTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func prepared() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        _ = try await database.store.createList(try .sample("other", name: "他"), source: .cli)
        return database
    }

    @discardableResult
    func importCSV(
        _ text: String, into list: String = "news", note: String? = nil, batchSize: Int = 10_000, in database: MigratedDatabase
    ) async throws -> (ImportSummary, [ImportProblem]) {
        let reader = try SubscriberFileReader(source: InMemoryByteSource(text), format: .csv, name: "test")
        var problems: [ImportProblem] = []
        let summary = try await database.store.importSubscribers(
            from: reader, options: ImportOptions(list: ListSlug(list), rules: ImportRules(consentNote: note), batchSize: batchSize),
            problem: { problems.append($0) }, progress: { _ in })
        return (summary, problems)
    }

    func rows(_ sql: String, in database: MigratedDatabase) throws -> [Row] {
        try database.store.pool.read { try Row.fetchAll($0, sql: sql) }
    }

    func subscriptions(in database: MigratedDatabase) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try rows("""
            SELECT a.identity_key, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            JOIN lists l ON l.id = s.list_id WHERE l.slug = 'news'
            """, in: database).map { ($0[0] as String, $0[1] as String) })
    }

    @Test("new rows: active with a consent note, pending without; the address is stored as entered with the core's identity and hash")
    func newRows() async throws {
        let database = try await prepared()
        let (summary, problems) = try await importCSV("email,name,consent_note\nAda@Example.org,Ada,booth 2025\nbob@example.org,,\n", in: database)
        #expect(problems.isEmpty)
        #expect(summary.imported == 2)
        #expect(summary.pendingWithoutConsent == 1)
        #expect(try subscriptions(in: database) == ["ada@example.org": "active", "bob@example.org": "pending"])
        let address = try #require(try rows("SELECT email, address_hash FROM addresses WHERE identity_key = 'ada@example.org'", in: database).first)
        #expect(address["email"] == "Ada@Example.org")
        let expectedHash = try await database.store.pool.read { db in try AddressHasher.hash(try EmailAddress("ada@example.org"), in: db) }
        #expect(address["address_hash"] == expectedHash)
        let source = try rows("SELECT DISTINCT source FROM subscriptions", in: database).map { $0[0] as String }
        #expect(source == ["import"])
        #expect(try rows("SELECT public_id FROM subscriptions WHERE public_id IS NULL OR length(public_id) <> 32", in: database).isEmpty)
    }

    @Test("each change is an imported event carrying its consent note, and the chain stays intact")
    func eventsCarryConsent() async throws {
        let database = try await prepared()
        let (summary, _) = try await importCSV(
            "email,subscribed_at\na@example.org,2024-04-01T09:30:00+09:00\nb@example.org,\n", note: "signed up at the fair", in: database)
        let details = try rows("""
            SELECT a.identity_key, e.detail FROM events e JOIN addresses a ON a.address_hash = e.address_hash
            WHERE e.type = 'imported'
            """, in: database).reduce(into: [String: String]()) { $0[$1[0]] = $1[1] }
        // The time of consent the file claims is recorded; without one, the event's own time stands.
        #expect(details == [
            "a@example.org": #"{"consent_note":"signed up at the fair","import":"\#(summary.importID)","status":"active","subscribed_at":"2024-04-01T00:30:00.000Z"}"#,
            "b@example.org": #"{"consent_note":"signed up at the fair","import":"\#(summary.importID)","status":"active"}"#,
        ])
        #expect(try await database.seal() == 4)  // two lists created, two imported
        let verification = try await database.store.verifyLedger(against: nil) { _ in }
        #expect(verification.isIntact)
        #expect(verification.sealed == 4)
    }

    @Test("a pending subscription becomes active with a consent note; active is never moved back to pending")
    func mergeWithDatabase() async throws {
        let database = try await prepared()
        try await importCSV("email\na@example.org\n", in: database)
        try await importCSV("email\nb@example.org\n", note: "form on paper", in: database)
        let (summary, _) = try await importCSV("email,status\na@example.org,active\nb@example.org,pending\n", note: "phone call", in: database)
        #expect(summary.updated == 1)
        #expect(summary.skipped == 1)
        #expect(try subscriptions(in: database) == ["a@example.org": "active", "b@example.org": "active"])
        let detail = try #require(try rows("SELECT detail FROM events WHERE type = 'imported' ORDER BY id DESC LIMIT 1", in: database).first)
        #expect((detail[0] as String).contains(#""previous_status":"pending""#))
    }

    @Test("duplicates within the file merge into one subscription; a later name wins")
    func duplicatesInFile() async throws {
        let database = try await prepared()
        let (summary, _) = try await importCSV(
            "email,name\na@example.org,A\nA@EXAMPLE.ORG,Ada\na@example.org,\n", note: "x", batchSize: 2, in: database)
        #expect(summary.imported == 1)
        #expect(summary.updated == 1)
        #expect(summary.skipped == 1)
        #expect(try rows("SELECT name FROM subscriptions", in: database).map { $0[0] as String } == ["Ada"])
        #expect(try rows("SELECT count(*) FROM addresses", in: database).first?[0] == 1)
    }

    @Test("suppressed addresses, for this list or every list, are skipped and counted; others on the file are imported")
    func suppressionWins() async throws {
        let database = try await prepared()
        _ = try await database.store.suppress(try EmailAddress("global@example.org"), list: nil, source: .cli, at: now)
        _ = try await database.store.suppress(try EmailAddress("news@example.net"), list: ListSlug("news"), source: .cli, at: now)
        _ = try await database.store.suppress(try EmailAddress("elsewhere@example.org"), list: ListSlug("other"), source: .cli, at: now)
        let (summary, _) = try await importCSV(
            "email\nglobal@example.org\nnews@example.net\nelsewhere@example.org\n", note: "x", in: database)
        #expect(summary.suppressed == 2)
        #expect(summary.imported == 1)
        #expect(try subscriptions(in: database) == ["elsewhere@example.org": "active"])
    }

    @Test("someone who unsubscribed is never brought back, and a forgotten person stays out")
    func leftStaysLeft() async throws {
        let database = try await prepared()
        try await importCSV("email\na@example.org\nb@example.org\n", note: "x", in: database)
        _ = try await database.store.removeSubscriber(try EmailAddress("a@example.org"), from: ListSlug("news"), source: .cli, at: now)
        _ = try await database.store.forget(try EmailAddress("b@example.org"), source: .cli, at: now)
        let (summary, _) = try await importCSV("email\na@example.org\nb@example.org\n", note: "x", in: database)
        #expect(summary.suppressed == 2)
        #expect(try subscriptions(in: database) == ["a@example.org": "unsubscribed"])
    }

    @Test("a row that left is recorded as left and suppressed for the list, so later imports skip it")
    func leftRows() async throws {
        let database = try await prepared()
        try await importCSV("email\nactive@example.org\n", note: "x", in: database)
        let (summary, _) = try await importCSV(
            "email,status,unsubscribed_at\nactive@example.org,unsubscribed,2025-01-02\nnew@example.org,bounced,\n", in: database)
        #expect(summary.updated == 1)
        #expect(summary.imported == 1)
        #expect(try subscriptions(in: database) == ["active@example.org": "unsubscribed", "new@example.org": "bounced"])
        #expect(try rows("SELECT unsubscribed_at FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = 'active@example.org'", in: database).first?[0] == "2025-01-02T00:00:00.000Z")
        #expect(try rows("SELECT reason FROM suppressions ORDER BY reason", in: database).map { $0[0] as String } == ["bounced", "unsubscribed"])
        let again = try await importCSV("email\nactive@example.org\nnew@example.org\n", note: "x", in: database).0
        #expect(again.suppressed == 2)
        try await database.seal()
        #expect(try await database.store.verifyLedger(against: nil) { _ in }.isIntact)
    }

    @Test("running the same file again changes nothing and records nothing: an interrupted import is resumed by re-running it")
    func resumable() async throws {
        let database = try await prepared()
        let text = "email,name,status\n" + (0..<250).map { "u\($0)@example.org,User \($0),\($0 % 10 == 0 ? "unsubscribed" : "")" }.joined(separator: "\n")
        // A first run cut short: only the first 100 rows made it.
        let firstLines = text.split(separator: "\n").prefix(101).joined(separator: "\n")
        try await importCSV(firstLines, note: "x", batchSize: 30, in: database)
        let (resumed, _) = try await importCSV(text, note: "x", batchSize: 30, in: database)
        #expect(resumed.imported == 150)
        #expect(resumed.skipped + resumed.suppressed == 100)
        let events = try rows("SELECT count(*) FROM events", in: database).first?[0] as Int?
        let (again, _) = try await importCSV(text, note: "x", batchSize: 30, in: database)
        #expect(again.imported == 0 && again.updated == 0)
        #expect(try rows("SELECT count(*) FROM events", in: database).first?[0] as Int? == events)
        #expect(try rows("SELECT count(*) FROM subscriptions", in: database).first?[0] == 250)
    }

    @Test("bad rows are reported with their line numbers and the valid rows around them are imported")
    func badRowsSkipped() async throws {
        let database = try await prepared()
        let (summary, problems) = try await importCSV(
            "email,name\nok1@example.org,A\nnot-an-address,B\nok2@example.org,\"unclosed\nok3@example.org,C\n", note: "x", in: database)
        #expect(problems.map(\.line) == [3, 4])
        #expect(summary.invalid == 2)
        #expect(summary.imported == 2)
        #expect(summary.rows == 4)
        #expect(Set(try subscriptions(in: database).keys) == ["ok1@example.org", "ok3@example.org"])
    }

    @Test("an import queues no mail, whatever the rows say")
    func noMail() async throws {
        let database = try await prepared()
        try await importCSV("email,status\na@example.org,\nb@example.org,pending\nc@example.org,unsubscribed\n", in: database)
        try await importCSV("email\na@example.org\n", note: "x", in: database)
        #expect(try rows("SELECT count(*) FROM outbox", in: database).first?[0] == 0)
    }

    @Test("an unknown list fails before any row is read or written")
    func unknownList() async throws {
        let database = try await prepared()
        await #expect(throws: DomainError.listNotFound("missing")) {
            try await importCSV("email\na@example.org\n", into: "missing", in: database)
        }
        #expect(try rows("SELECT count(*) FROM addresses", in: database).first?[0] == 0)
    }
}
