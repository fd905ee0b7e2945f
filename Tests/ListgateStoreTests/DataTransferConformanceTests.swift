// Specification of importing into the store and exporting from it, on every store: rows
// merge with what is there, suppression wins, nobody who left comes back, every change is
// an `imported` event with its consent note, nothing is queued for mail, and running the
// same file again changes nothing (the import is resumable); an export writes the same
// bytes whichever store holds the rows.
import Foundation
import ListgateCore
import Testing

/// Imports CSV `text` into `list` of `store`; returns the summary and the problems reported.
@discardableResult
func importCSV(
    _ text: String, into list: String = "news", note: String? = nil, batchSize: Int = 10_000, store: any SubscriberDataStore
) async throws -> (ImportSummary, [ImportProblem]) {
    let reader = try SubscriberFileReader(source: InMemoryByteSource(text), format: .csv, name: "test")
    var problems: [ImportProblem] = []
    let summary = try await store.importSubscribers(
        from: reader, options: ImportOptions(list: ListSlug(list), rules: ImportRules(consentNote: note), batchSize: batchSize),
        problem: { problems.append($0) }, progress: { _ in })
    return (summary, problems)
}

@Suite("Subscriber import, on every store")
struct SubscriberImportConformanceTests {
    struct Prepared {
        let opened: StoreUnderTest
        let store: any SubscriberDataStore
    }

    func prepared(_ kind: StoreKind) async throws -> Prepared {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        _ = try await lists.createList(try .sample("other", name: "他"), source: .cli)
        return Prepared(opened: opened, store: try opened.as((any SubscriberDataStore).self))
    }

    func subscriptions(_ prepared: Prepared, list: String = "news") async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await prepared.opened.rows("""
            SELECT a.identity_key, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            JOIN lists l ON l.id = s.list_id WHERE l.slug = '\(list)'
            """).map { ($0[0] ?? "", $0[1] ?? "") })
    }

    @Test("new rows: active with a consent note, pending without; the address is stored as entered with the core's identity and hash",
          arguments: StoreKind.underTest)
    func newRows(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let (summary, problems) = try await importCSV(
            "email,name,consent_note\nAda@Example.org,Ada,booth 2025\nbob@example.org,,\n", store: prepared.store)
        #expect(problems.isEmpty)
        #expect(summary.imported == 2)
        #expect(summary.pendingWithoutConsent == 1)
        #expect(try await subscriptions(prepared) == ["ada@example.org": "active", "bob@example.org": "pending"])
        let address = try await prepared.opened.rows(
            "SELECT email, address_hash FROM addresses WHERE identity_key = 'ada@example.org'")
        let key = try #require(try await prepared.opened.value("SELECT value FROM settings WHERE key = 'address_hash_key'"))
        #expect(address == [["Ada@Example.org", AddressHasher.hash(identityKey: "ada@example.org", key: key)]])
        #expect(try await prepared.opened.rows("SELECT DISTINCT source FROM subscriptions") == [["import"]])
        #expect(try await prepared.opened.count("subscriptions", where: "length(public_id) <> 32 OR length(recipient_id) <> 32") == 0)
        #expect(try await prepared.opened.rows("""
            SELECT s.name FROM subscriptions s JOIN addresses a ON a.id = s.address_id ORDER BY a.identity_key
            """) == [["Ada"], [nil]])
    }

    @Test("each change is an imported event carrying its consent note and the time of consent the file claims",
          arguments: StoreKind.underTest)
    func eventsCarryConsent(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let (summary, _) = try await importCSV(
            "email,subscribed_at\na@example.org,2024-04-01T09:30:00+09:00\nb@example.org,\n", note: "signed up at the fair",
            store: prepared.store)
        let details = try await prepared.opened.rows("""
            SELECT a.identity_key, e.detail, e.source FROM events e JOIN addresses a ON a.address_hash = e.address_hash
            WHERE e.type = 'imported' ORDER BY a.identity_key
            """)
        // Without a claimed time, consent dates from the event itself.
        #expect(details == [
            ["a@example.org",
             #"{"consent_note":"signed up at the fair","import":"\#(summary.importID)","status":"active","subscribed_at":"2024-04-01T00:30:00.000Z"}"#,
             "cli"],
            ["b@example.org", #"{"consent_note":"signed up at the fair","import":"\#(summary.importID)","status":"active"}"#, "cli"],
        ])
        #expect(try await prepared.opened.rows("""
            SELECT s.subscribed_at FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = 'a@example.org'
            """) == [["2024-04-01T00:30:00.000Z"]])
        #expect(try await prepared.opened.count(
            "subscriptions s JOIN addresses a ON a.id = s.address_id JOIN events e ON e.address_hash = a.address_hash",
            where: "a.identity_key = 'b@example.org' AND e.type = 'imported' AND s.subscribed_at = e.occurred_at") == 1,
            "an unclaimed time is the event's own")
    }

    @Test("a pending subscription becomes active with a consent note; active is never moved back to pending",
          arguments: StoreKind.underTest)
    func mergeWithDatabase(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        try await importCSV("email\na@example.org\n", store: prepared.store)
        try await importCSV("email\nb@example.org\n", note: "form on paper", store: prepared.store)
        let (summary, _) = try await importCSV(
            "email,status\na@example.org,active\nb@example.org,pending\n", note: "phone call", store: prepared.store)
        #expect(summary.updated == 1)
        #expect(summary.skipped == 1)
        #expect(try await subscriptions(prepared) == ["a@example.org": "active", "b@example.org": "active"])
        let detail = try #require(try await prepared.opened.value("SELECT detail FROM events WHERE type = 'imported' ORDER BY id DESC LIMIT 1"))
        #expect(detail.contains(#""previous_status":"pending""#))
        #expect(try await prepared.opened.count("subscriptions", where: "status = 'active' AND subscribed_at IS NULL") == 0)
    }

    @Test("duplicates within the file merge into one subscription; a later name wins", arguments: StoreKind.underTest)
    func duplicatesInFile(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let (summary, _) = try await importCSV(
            "email,name\na@example.org,A\nA@EXAMPLE.ORG,Ada\na@example.org,\n", note: "x", batchSize: 2, store: prepared.store)
        #expect(summary.imported == 1)
        #expect(summary.updated == 1)
        #expect(summary.skipped == 1)
        #expect(try await prepared.opened.rows("SELECT name FROM subscriptions") == [["Ada"]])
        #expect(try await prepared.opened.count("addresses") == 1)
    }

    @Test("within one batch, a row that left suppresses the rows of that address after it", arguments: StoreKind.underTest)
    func leftWithinBatch(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let (summary, _) = try await importCSV(
            "email,status\na@example.org,\na@example.org,unsubscribed\na@example.org,active\n", note: "x", store: prepared.store)
        #expect(summary.imported == 1 && summary.updated == 1 && summary.suppressed == 1)
        #expect(try await subscriptions(prepared) == ["a@example.org": "unsubscribed"])
        #expect(try await prepared.opened.rows("SELECT type FROM events WHERE address_hash IS NOT NULL ORDER BY id")
                == [["imported"], ["imported"], ["suppressed"]])
    }

    @Test("a suppression of the list keeps an address out; one of another list does not", arguments: StoreKind.underTest)
    func listSuppressionWins(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        // Leaving through an import suppresses the address for that list only.
        try await importCSV("email,status\nleft@example.org,unsubscribed\n", into: "other", store: prepared.store)
        try await importCSV("email,status\nnews@example.net,unsubscribed\n", store: prepared.store)
        let (summary, _) = try await importCSV("email\nleft@example.org\nnews@example.net\n", note: "x", store: prepared.store)
        #expect(summary.suppressed == 1)
        #expect(summary.imported == 1)
        #expect(try await subscriptions(prepared) == ["left@example.org": "active", "news@example.net": "unsubscribed"])
    }

    @Test("suppressed addresses, for this list or every list, are skipped and counted; others on the file are imported",
          arguments: StoreKind.underTest)
    func suppressionWins(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let membership = try prepared.opened.as((any MembershipStore).self)
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        _ = try await membership.suppress(try EmailAddress("global@example.org"), list: nil, source: .cli, at: now)
        _ = try await membership.suppress(try EmailAddress("news@example.net"), list: ListSlug("news"), source: .cli, at: now)
        _ = try await membership.suppress(try EmailAddress("elsewhere@example.org"), list: ListSlug("other"), source: .cli, at: now)
        let (summary, _) = try await importCSV(
            "email\nglobal@example.org\nnews@example.net\nelsewhere@example.org\n", note: "x", store: prepared.store)
        #expect(summary.suppressed == 2)
        #expect(summary.imported == 1)
        #expect(try await subscriptions(prepared) == ["elsewhere@example.org": "active"])
    }

    @Test("someone who unsubscribed is never brought back, and a forgotten person stays out", arguments: StoreKind.underTest)
    func leftStaysLeft(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let membership = try prepared.opened.as((any MembershipStore).self)
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        try await importCSV("email\na@example.org\nb@example.org\n", note: "x", store: prepared.store)
        _ = try await membership.removeSubscriber(try EmailAddress("a@example.org"), from: ListSlug("news"), source: .cli, at: now)
        _ = try await membership.forget(try EmailAddress("b@example.org"), source: .cli, at: now)
        let (summary, _) = try await importCSV("email\na@example.org\nb@example.org\n", note: "x", store: prepared.store)
        #expect(summary.suppressed == 2)
        #expect(try await subscriptions(prepared) == ["a@example.org": "unsubscribed"])
    }

    @Test("a row that left is recorded as left and suppressed for the list, so later imports skip it",
          arguments: StoreKind.underTest)
    func leftRows(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        try await importCSV("email\nactive@example.org\n", note: "x", store: prepared.store)
        let (summary, _) = try await importCSV(
            "email,status,unsubscribed_at\nactive@example.org,unsubscribed,2025-01-02\nnew@example.org,bounced,\n",
            store: prepared.store)
        #expect(summary.updated == 1)
        #expect(summary.imported == 1)
        #expect(try await subscriptions(prepared) == ["active@example.org": "unsubscribed", "new@example.org": "bounced"])
        #expect(try await prepared.opened.rows(
            "SELECT unsubscribed_at FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE a.identity_key = 'active@example.org'")
            == [["2025-01-02T00:00:00.000Z"]])
        #expect(try await prepared.opened.rows("SELECT reason FROM suppressions ORDER BY reason") == [["bounced"], ["unsubscribed"]])
        #expect(try await prepared.opened.rows("SELECT detail FROM events WHERE type = 'suppressed' ORDER BY detail")
                == [[#"{"reason":"bounced"}"#], [#"{"reason":"unsubscribed"}"#]])
        let again = try await importCSV("email\nactive@example.org\nnew@example.org\n", note: "x", store: prepared.store).0
        #expect(again.suppressed == 2)
    }

    @Test("running the same file again changes nothing and records nothing: an interrupted import is resumed by re-running it",
          arguments: StoreKind.underTest)
    func resumable(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let text = "email,name,status\n"
            + (0..<250).map { "u\($0)@example.org,User \($0),\($0 % 10 == 0 ? "unsubscribed" : "")" }.joined(separator: "\n")
        // A first run cut short: only the first 100 rows made it.
        let firstLines = text.split(separator: "\n").prefix(101).joined(separator: "\n")
        try await importCSV(firstLines, note: "x", batchSize: 30, store: prepared.store)
        let (resumed, _) = try await importCSV(text, note: "x", batchSize: 30, store: prepared.store)
        #expect(resumed.imported == 150)
        #expect(resumed.skipped + resumed.suppressed == 100)
        let events = try await prepared.opened.count("events")
        let (again, _) = try await importCSV(text, note: "x", batchSize: 30, store: prepared.store)
        #expect(again.imported == 0 && again.updated == 0)
        #expect(try await prepared.opened.count("events") == events)
        #expect(try await prepared.opened.count("subscriptions") == 250)
    }

    @Test("bad rows are reported with their line numbers and the valid rows around them are imported",
          arguments: StoreKind.underTest)
    func badRowsSkipped(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        let (summary, problems) = try await importCSV(
            "email,name\nok1@example.org,A\nnot-an-address,B\nok2@example.org,\"unclosed\nok3@example.org,C\n", note: "x",
            store: prepared.store)
        #expect(problems.map(\.line) == [3, 4])
        #expect(summary.invalid == 2)
        #expect(summary.imported == 2)
        #expect(summary.rows == 4)
        #expect(Set(try await subscriptions(prepared).keys) == ["ok1@example.org", "ok3@example.org"])
    }

    @Test("an import queues no mail, whatever the rows say", arguments: StoreKind.underTest)
    func noMail(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        try await importCSV("email,status\na@example.org,\nb@example.org,pending\nc@example.org,unsubscribed\n", store: prepared.store)
        try await importCSV("email\na@example.org\n", note: "x", store: prepared.store)
        #expect(try await prepared.opened.count("outbox") == 0)
    }

    @Test("an unknown list fails before any row is read or written; a closed list likewise", arguments: StoreKind.underTest)
    func unknownList(_ kind: StoreKind) async throws {
        let prepared = try await prepared(kind)
        await #expect(throws: DomainError.listNotFound("missing")) {
            try await importCSV("email\na@example.org\n", into: "missing", store: prepared.store)
        }
        _ = try await prepared.opened.as((any ListStore).self).archiveList(try ListSlug("other"), source: .cli)
        await #expect(throws: DomainError.listArchived("other")) {
            try await importCSV("email\na@example.org\n", into: "other", store: prepared.store)
        }
        #expect(try await prepared.opened.count("addresses") == 0)
    }
}

@Suite("Exports, on every store")
struct DataExportConformanceTests {
    /// Runs `export` into a temp file and returns what it wrote.
    func exported(_ export: (ExportDestination) async throws -> Int) async throws -> (rows: Int, text: String) {
        let directory = try TemporaryDirectory()
        let path = directory.path("out")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(descriptor >= 0)
        let rows = try await export(ExportDestination(descriptor: descriptor, name: path))
        close(descriptor)
        return (rows, try String(contentsOfFile: path, encoding: .utf8))
    }

    func prepared(_ kind: StoreKind) async throws -> (StoreUnderTest, any SubscriberDataStore) {
        let opened = try await StoreUnderTest.open(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        let store = try opened.as((any SubscriberDataStore).self)
        // One file per row: addresses are numbered in the order they were first recorded,
        // which an export follows (a batch records its addresses in hash order).
        let header = "email,name,status,subscribed_at,unsubscribed_at\n"
        for row in [
            #"Ada@Example.org,"=Ada, ""the first""",active,2024-04-01T09:30:00Z,"#,
            "bob@example.org,,unsubscribed,2023-01-01T00:00:00.5Z,2025-01-02T03:04:05.678Z",
            "たろう@例え.jp,太郎,pending,,",
        ] {
            try await importCSV(header + row + "\n", note: "paper form", store: store)
        }
        return (opened, store)
    }

    @Test("subscribers export as CSV: every subscription in address order, times as stored, formulas neutralised",
          arguments: StoreKind.underTest)
    func subscribersCSV(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        let (rows, text) = try await exported { destination in
            try await store.exportSubscribers(list: ListSlug("news"), status: .all, format: .csv, to: destination) { _ in }
        }
        #expect(rows == 3)
        #expect(text == [
            "list,email,name,status,subscribed_at,unsubscribed_at,source",
            #"news,Ada@Example.org,"'=Ada, ""the first""",active,2024-04-01T09:30:00.000Z,,import"#,
            "news,bob@example.org,,unsubscribed,2023-01-01T00:00:00.500Z,2025-01-02T03:04:05.678Z,import",
            "news,たろう@例え.jp,太郎,pending,,,import",
        ].map { $0 + "\r\n" }.joined())
    }

    @Test("subscribers export as NDJSON, active only", arguments: StoreKind.underTest)
    func subscribersNDJSONActive(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        let (rows, text) = try await exported { destination in
            try await store.exportSubscribers(list: ListSlug("news"), status: .active, format: .ndjson, to: destination) { _ in }
        }
        #expect(rows == 1)
        #expect(text == #"{"list":"news","email":"Ada@Example.org","name":"=Ada, \"the first\"","status":"active","subscribed_at":"2024-04-01T09:30:00.000Z","unsubscribed_at":null,"source":"import"}"# + "\n")
    }

    @Test("an export of an unknown list fails with listNotFound", arguments: StoreKind.underTest)
    func unknownList(_ kind: StoreKind) async throws {
        let (_, store) = try await prepared(kind)
        await #expect(throws: DomainError.listNotFound("missing")) {
            _ = try await exported { destination in
                try await store.exportSubscribers(list: ListSlug("missing"), status: .all, format: .csv, to: destination) { _ in }
            }
        }
    }

    @Test("events export oldest first with their detail as JSON, of every list or one, from a time on",
          arguments: StoreKind.underTest)
    func events(_ kind: StoreKind) async throws {
        let (opened, store) = try await prepared(kind)
        let (rows, text) = try await exported { destination in
            try await store.exportEvents(list: ListSlug("news"), since: nil, format: .ndjson, to: destination) { _ in }
        }
        let expected = try await opened.rows("SELECT id, occurred_at, type, address_hash, detail FROM events ORDER BY id")
        #expect(rows == expected.count)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count)
        for (line, row) in zip(lines, expected) {
            let hash = row[3].map { "\"\($0)\"" } ?? "null"
            #expect(line == #"{"id":\#(row[0]!),"occurred_at":"\#(row[1]!)","type":"\#(row[2]!)","list":"news","address_hash":\#(hash),"source":"cli","consent_version":null,"detail":\#(row[4]!),"prev_hash":null,"hash":null}"#)
        }
        let future = try await exported { destination in
            try await store.exportEvents(list: nil, since: Date().addingTimeInterval(60), format: .csv, to: destination) { _ in }
        }
        #expect(future.rows == 0)
        #expect(future.text == "id,occurred_at,type,list,address_hash,source,consent_version,detail,prev_hash,hash\r\n")
    }
}
