// Specification of importing into the SQLite store where it needs the SQLite sealer: its
// events in the hash chain. The import's merge rules on every store are in
// Tests/ListgateStoreTests/DataTransferConformanceTests.swift.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Subscriber import (store)")
struct SubscriberImportStoreTests {
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

    @Test("an import's events, consent and suppressions alike, seal into an intact hash chain")
    func eventsSealIntoChain() async throws {
        let database = try await prepared()
        try await importCSV(
            "email,subscribed_at\na@example.org,2024-04-01T09:30:00+09:00\nb@example.org,\n", note: "signed up at the fair", in: database)
        try await importCSV("email,status\na@example.org,unsubscribed\n", in: database)
        #expect(try await database.seal() == 6)  // two lists created, two imported, one left and its suppression
        let verification = try await database.store.verifyLedger(against: nil) { _ in }
        #expect(verification.isIntact)
        #expect(verification.sealed == 6)
    }
}

@Suite("Ledger verification")
struct LedgerVerificationTests {
    /// Four sealed events (a list, three subscribers), with the triggers that would
    /// refuse tampering dropped, as someone with the file could.
    func tamperable() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        for email in ["a@example.org", "b@example.org", "c@example.org"] {
            _ = try await database.store.addSubscriber(
                NewSubscriber(address: EmailAddress(email), list: ListSlug("news"), confirmed: true), source: .cli, at: Date())
        }
        #expect(try await database.seal() == 4)
        try await database.rawConnection().write { db in
            try db.execute(sql: """
                DROP TRIGGER events_are_append_only_update; DROP TRIGGER events_are_append_only_delete;
                DROP TRIGGER event_chain_is_append_only_update; DROP TRIGGER event_chain_is_append_only_delete;
                DROP TRIGGER event_chain_extends_its_head;
                """)
        }
        return database
    }

    func verify(_ database: MigratedDatabase, against checkpoint: LedgerCheckpoint? = nil) async throws -> LedgerVerification {
        try await database.store.verifyLedger(against: checkpoint) { _ in }
    }

    /// Recomputes every chain row from `position` on, as a forger covering an edit would.
    func rehash(from position: Int64, in db: Database) throws {
        var previous = try String.fetchOne(db, sql: "SELECT hash FROM event_chain WHERE position = ?", arguments: [position - 1])
            ?? EventLedger.genesisHash
        let rows = try Row.fetchAll(db, sql: """
            SELECT c.position, e.* FROM event_chain c JOIN events e ON e.id = c.event_id WHERE c.position >= ? ORDER BY c.position
            """, arguments: [position])
        for row in rows {
            let hash = EventLedger.chainHash(
                prevHash: previous, occurredAt: row["occurred_at"], type: row["type"], listID: row["list_id"],
                addressHash: row["address_hash"], source: row["source"], consentVersion: row["consent_version"],
                detail: row["detail"])
            try db.execute(
                sql: "UPDATE event_chain SET prev_hash = ?, hash = ? WHERE position = ?",
                arguments: [previous, hash, row["position"] as Int64])
            previous = hash
        }
    }

    @Test("an intact ledger verifies with its sealed count and head hash")
    func intact() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        try await database.seal()
        let result = try await verify(database)
        #expect(result.isIntact)
        #expect(result.sealed == 1)
        #expect(result.unsealed == 0)
        #expect(result.head.hash.count == 64 && result.head.hash != EventLedger.genesisHash)
        #expect(result.appendOnlyTriggersPresent)
    }

    @Test("events not sealed yet are counted as the unsealed tail, not as a problem")
    func unsealedTail() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        try await database.seal()
        _ = try await database.store.createList(try .sample("other"), source: .cli)
        _ = try await database.store.archiveList(try ListSlug("other"), source: .cli)
        let result = try await verify(database)
        #expect(result.isIntact)
        #expect(result.sealed == 1)
        #expect(result.unsealed == 2)
    }

    @Test("an empty ledger verifies, its head the genesis hash")
    func empty() async throws {
        let result = try await verify(try await MigratedDatabase.make())
        #expect(result.isIntact)
        #expect(result.head == .empty)
    }

    @Test("an edited event is named as the first broken link")
    func editedEvent() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            try db.execute(sql: #"UPDATE events SET detail = '{"status":"pending"}' WHERE id = 3"#)
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .contentMismatch))
        #expect(result.sealed == 2)
        #expect(!result.appendOnlyTriggersPresent)
    }

    @Test("an edit with a recomputed hash is found at the next event")
    func rehashedEdit() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            let row = try #require(try Row.fetchOne(db, sql: """
                SELECT e.*, c.prev_hash FROM events e JOIN event_chain c ON c.event_id = e.id WHERE e.id = 2
                """))
            let forged = EventLedger.chainHash(
                prevHash: row["prev_hash"], occurredAt: row["occurred_at"], type: "subscriber_added", listID: row["list_id"],
                addressHash: row["address_hash"], source: "cli", consentVersion: nil, detail: #"{"status":"pending"}"#)
            try db.execute(sql: #"UPDATE events SET detail = '{"status":"pending"}' WHERE id = 2"#)
            try db.execute(sql: "UPDATE event_chain SET hash = ? WHERE event_id = 2", arguments: [forged])
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .previousHashMismatch(previousID: 2)))
    }

    @Test("a removed event is named: gone from the ledger while the chain still seals it")
    func removedEvent() async throws {
        let database = try await tamperable()
        // With foreign keys off too: the chain's reference would refuse it otherwise.
        try await database.rawConnection().writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF; DELETE FROM events WHERE id = 2")
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: 2, reason: .eventMissing))
        #expect(result.sealed == 1)
    }

    @Test("an event removed with its chain row is found at the one after it")
    func removedWithItsLink() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            try db.execute(sql: "DELETE FROM event_chain WHERE position = 2; DELETE FROM events WHERE id = 2")
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .positionsMissing(after: 1)))
    }

    @Test("an event whose chain row was removed and the rest re-linked and re-hashed is found outside the chain")
    func relinkedAroundAnEvent() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            try db.execute(sql: """
                DELETE FROM event_chain WHERE position = 2;
                UPDATE event_chain SET position = position - 1 WHERE position > 2;
                """)
            try rehash(from: 2, in: db)
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: nil, reason: .notInChain(headEventID: 4)))
    }

    @Test("two sealed events swapped in the chain are found where the order breaks")
    func reordered() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            try db.execute(sql: """
                UPDATE event_chain SET position = 100 WHERE position = 2;
                UPDATE event_chain SET position = 2 WHERE position = 3;
                UPDATE event_chain SET position = 3 WHERE position = 100;
                """)
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 2, reason: .previousHashMismatch(previousID: 1)))
    }

    @Test("a chain reordered and re-hashed whole is found by its order")
    func reorderedAndRehashed() async throws {
        let database = try await tamperable()
        try await database.rawConnection().write { db in
            try db.execute(sql: """
                PRAGMA defer_foreign_keys = ON;
                UPDATE event_chain SET event_id = 100 WHERE position = 2;
                UPDATE event_chain SET event_id = 2 WHERE position = 3;
                UPDATE event_chain SET event_id = 3 WHERE position = 2;
                """)
            try rehash(from: 2, in: db)
        }
        let result = try await verify(database)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: 3, reason: .outOfOrder(previousID: 3)))
    }

    @Test("a chain re-hashed from an edited event verifies alone, but not against a checkpoint taken before")
    func rewrittenAgainstCheckpoint() async throws {
        let database = try await tamperable()
        let checkpoint = try await verify(database).head
        #expect(checkpoint.count == 4)
        try await database.rawConnection().write { db in
            try db.execute(sql: #"UPDATE events SET detail = '{"status":"pending"}' WHERE id = 2"#)
            try rehash(from: 2, in: db)
        }
        #expect(try await verify(database).isIntact, "re-hashed whole, the chain holds together")
        let result = try await verify(database, against: checkpoint)
        #expect(!result.isIntact)
        #expect(result.firstBreak == nil)
        guard case .differentHash(let expected, let found) = result.checkpointMismatch else {
            Issue.record("expected a different hash, got \(String(describing: result.checkpointMismatch))")
            return
        }
        #expect(expected == checkpoint && found != checkpoint.hash && found.count == 64)
    }

    @Test("a chain cut short below a checkpoint is found as truncated")
    func truncatedAgainstCheckpoint() async throws {
        let database = try await tamperable()
        let checkpoint = try await verify(database).head
        try await database.rawConnection().write { db in try db.execute(sql: "DELETE FROM event_chain WHERE position > 2") }
        let result = try await verify(database, against: checkpoint)
        #expect(result.checkpointMismatch == .shorter(checkpoint: checkpoint, sealed: 2))
        #expect(result.sealed == 2)
    }

    @Test("a chain that grew past a checkpoint still extends it")
    func grownPastCheckpoint() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        try await database.seal()
        let checkpoint = try await verify(database).head
        _ = try await database.store.createList(try .sample("other"), source: .cli)
        try await database.seal()
        let result = try await verify(database, against: checkpoint)
        #expect(result.isIntact)
        #expect(result.sealed == 2)
        #expect(try await verify(database, against: .empty).isIntact, "every chain extends the empty one")
    }
}
