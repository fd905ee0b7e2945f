// Specification of the sealed ledger, on every store (README, "The ledger: durable now,
// sealed soon"; docs/design.md, "The sealed ledger"): the sealer seals events appended by
// concurrent writers each exactly once, with no gap, in the store's sealing order (id
// order on SQLite, (written_by, id) on PostgreSQL); one sealer at a time, by the lease in
// the database; and `events verify` finds every edit, removal, insertion and reordering
// made behind the append-only triggers, naming the event.
import Foundation
import ListgateCore
import Testing

@Suite("Ledger, on every store")
struct LedgerConformanceTests {
    func chain(_ opened: StoreUnderTest) async throws -> [(position: Int64, eventID: Int64)] {
        try await opened.rows("SELECT position, event_id FROM event_chain ORDER BY position").map {
            (Int64($0[0] ?? "") ?? -1, Int64($0[1] ?? "") ?? -1)
        }
    }

    func lease(_ opened: StoreUnderTest) async throws -> (holder: String, expiresAt: String)? {
        try await opened.rows("SELECT holder, expires_at FROM leases").first.map { ($0[0] ?? "", $0[1] ?? "") }
    }

    func verify(_ opened: StoreUnderTest, against checkpoint: LedgerCheckpoint? = nil) async throws -> LedgerVerification {
        try await opened.as((any LedgerStore).self).verifyLedger(against: checkpoint) { _ in }
    }

    // MARK: Sealing

    @Test("sealed events are chained: each chain row holds the hash of the one before and of its event's contents",
          arguments: StoreKind.underTest)
    func eventsAreChained(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("a"), source: .cli)
        _ = try await lists.createList(try .sample("b"), source: .cli)
        #expect(try await opened.count("event_chain") == 0, "appending hashes nothing")
        try await opened.seal()
        let rows = try await opened.rows("""
            SELECT c.prev_hash, c.hash, e.occurred_at, e.type, e.list_id, e.address_hash, e.source, e.consent_version, e.detail
            FROM event_chain c JOIN events e ON e.id = c.event_id ORDER BY c.position
            """)
        #expect(rows.count == 2)
        #expect(rows.first?[0] == LedgerCheckpoint.genesisHash)
        #expect(rows.last?[0] == rows.first?[1])
        for row in rows {
            #expect(Self.recomputed(row, prevHash: row[0] ?? "") == row[1])
        }
    }

    /// The hash of a row of `c.prev_hash, c.hash, e.occurred_at, e.type, e.list_id,
    /// e.address_hash, e.source, e.consent_version, e.detail` from `prevHash`.
    static func recomputed(_ row: [String?], prevHash: String, detail: String? = nil) -> String {
        LedgerHash.chain(
            prevHash: prevHash, occurredAt: row[2] ?? "", type: row[3] ?? "", listID: row[4].flatMap { Int64($0) },
            addressHash: row[5], source: row[6] ?? "", consentVersion: row[7], detail: detail ?? row[8] ?? "")
    }

    @Test("the sealer's hashes are the canonical ones, for every field: text beyond ASCII, NULL and numbers",
          arguments: StoreKind.underTest)
    func canonicalHashes(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        var change = ListChange()
        change.name = "週刊「お知らせ」\u{1F4E8}"
        _ = try await lists.updateList(try ListSlug("news"), change, source: EventSource("api:テスト"))
        try await opened.seedMember("taro@example.jp")
        try await opened.seedEvent("unsubscribed", about: "taro@example.jp")
        #expect(try await opened.seal() == 3)
        let rows = try await opened.rows("""
            SELECT c.prev_hash, c.hash, e.occurred_at, e.type, e.list_id, e.address_hash, e.source, e.consent_version, e.detail
            FROM event_chain c JOIN events e ON e.id = c.event_id ORDER BY c.position
            """)
        var previous = LedgerCheckpoint.genesisHash
        for row in rows {
            #expect(row[0] == previous)
            previous = Self.recomputed(row, prevHash: previous)
            #expect(row[1] == previous)
        }
        #expect(rows.count == 3)
        #expect(rows[1][8]?.contains("お知らせ") == true, "the detail is hashed as stored")
    }

    @Test("under concurrent writers and two competing sealers, every event is sealed exactly once, with no gap, and verifies",
          arguments: StoreKind.underTest)
    func concurrentWriters(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any LedgerStore).self)
        let lists = try opened.as((any ListStore).self)
        let tally = Tally()

        // Two sealers poll as fast as they can, in small batches, with a short lease, so
        // they meet often: the lease must keep them from sealing anything twice.
        let sealers = (0..<2).map { index in
            Task {
                let holder = "sealer-\(index)"
                while true {
                    let stillWriting = await tally.writing
                    let pass: SealPass
                    do {
                        pass = try await store.sealLedger(as: holder, lease: .milliseconds(300), batch: 37, releasingWhenDone: false)
                    } catch {
                        Issue.record("a sealer failed: \(String(reflecting: error))")
                        throw error
                    }
                    await tally.add(pass.sealedCount, by: holder)
                    if case .sealed(_, more: false, _) = pass, !stillWriting { return }
                    if case .leaseHeld = pass, !stillWriting { return }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for n in 0..<40 {
                        do {
                            _ = try await lists.createList(try .sample("w\(writer)-\(n)"), source: .cli)
                        } catch {
                            Issue.record("a writer failed: \(String(reflecting: error))")
                            throw error
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        await tally.stopWriting()
        for sealer in sealers { try await sealer.value }
        // Whatever the last passes left (a sealer that lost the lease stops early): the
        // same as a command's seal on exit, once the lease is free.
        try await Task.sleep(for: .milliseconds(350))
        let drained = try await store.sealPending(as: "drain", lease: .seconds(10)).sealedCount
        await tally.add(drained, by: "drain")

        let events = try await opened.rows("SELECT id FROM events ORDER BY id").map { Int64($0[0] ?? "") ?? -1 }
        #expect(events.count == 4 * 40)
        let sealed = try await chain(opened)
        #expect(sealed.map(\.position) == Array(1...Int64(events.count)), "positions 1…N, no gap, no duplicate")
        #expect(sealed.map(\.eventID).sorted() == events, "every event once")
        if kind == .sqlite {
            #expect(sealed.map(\.eventID) == events, "in id order: on SQLite, commit order")
        }
        let counts = await tally.sealed
        #expect(counts.values.reduce(0, +) == events.count, "\(counts)")
        let result = try await verify(opened)
        #expect(result.isIntact, "\(result.problem ?? "")")
        #expect(result.sealed == events.count && result.unsealed == 0)
    }

    @Test("while one holder's lease is live another seals nothing; once it expires, the other takes over and seals the tail",
          arguments: StoreKind.underTest)
    func leaseHandover(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any LedgerStore).self)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        let first = try await store.sealLedger(as: "a", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        #expect(first.sealedCount == 1)

        // "a" now stops, as a process killed mid-work would: its lease stays until it expires.
        _ = try await lists.createList(try .sample("other"), source: .cli)
        let blocked = try await store.sealLedger(as: "b", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        guard case .leaseHeld(let holder, let until) = blocked else {
            Issue.record("b sealed while a's lease was live: \(blocked)")
            return
        }
        #expect(holder == "a")
        #expect(until.map { $0 > Date() } == true)
        #expect(try await store.sealPending(as: "c", lease: .seconds(10)) == blocked, "a command's seal on exit waits its turn too")
        #expect(try await verify(opened).unsealed == 1)

        try await Task.sleep(for: .milliseconds(1700))
        let takeover = try await store.sealLedger(as: "b", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        #expect(takeover.sealedCount == 1)
        #expect(try await lease(opened)?.holder == "b")
        let result = try await verify(opened)
        #expect(result.isIntact && result.sealed == 2 && result.unsealed == 0)
        #expect(try await chain(opened).map(\.eventID) == [1, 2])
    }

    @Test("a holder that gives its lease back lets the next sealer in at once", arguments: StoreKind.underTest)
    func release(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any LedgerStore).self)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        #expect(try await store.sealLedger(as: "a", lease: .seconds(60), batch: 100, releasingWhenDone: false).sealedCount == 1)
        _ = try await lists.createList(try .sample("other"), source: .cli)
        try await store.releaseSealerLease(held: "a")
        #expect(try await store.sealLedger(as: "b", lease: .seconds(60), batch: 100, releasingWhenDone: false).sealedCount == 1)
        try await store.releaseSealerLease(held: "a")
        #expect(try await lease(opened)?.holder == "b", "giving back a lease one does not hold changes nothing")
    }

    @Test("sealing on exit seals a backlog in batches and leaves the lease free", arguments: StoreKind.underTest)
    func sealPendingDrains(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any LedgerStore).self)
        let lists = try opened.as((any ListStore).self)
        for n in 0..<26 {
            _ = try await lists.createList(try .sample("p\(n)"), source: .cli)
        }
        let pass = try await store.sealPending(as: "cli", lease: .seconds(10), batch: 10)
        #expect(pass.sealedCount == 26)
        #expect(try await lease(opened) == nil)
        #expect(try await verify(opened).sealed == 26)
        #expect(try await store.sealPending(as: "cli", lease: .seconds(10)) == .sealed(count: 0, more: false, oldest: nil))
        #expect(try await lease(opened) == nil, "nothing to seal: the lease is not even taken")
    }

    @Test("an idle holder renews its lease only once half of it is gone", arguments: StoreKind.underTest)
    func idleRenewal(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let store = try opened.as((any LedgerStore).self)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        _ = try await store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        let taken = try #require(try await lease(opened)?.expiresAt)
        _ = try await store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        #expect(try await lease(opened)?.expiresAt == taken, "a fresh lease and nothing to seal: no write")
        try await Task.sleep(for: .milliseconds(600))
        _ = try await store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        let renewed = try #require(try await lease(opened)?.expiresAt)
        #expect(renewed > taken)
    }

    @Test("a pass reports when the oldest event it sealed was recorded", arguments: StoreKind.underTest)
    func oldestSealed(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let before = Date().addingTimeInterval(-1)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        let pass = try await opened.as((any LedgerStore).self).sealPending(as: "cli", lease: .seconds(10))
        guard case .sealed(1, false, let oldest?) = pass else {
            Issue.record("expected one event sealed with its time, got \(pass)")
            return
        }
        #expect(oldest > before && oldest <= Date().addingTimeInterval(1))
    }

    @Test("PostgreSQL: an event of a writer still running holds back the events of later writers; once it commits, it is sealed before them, whatever its id",
          .enabled(if: StoreKind.underTest.contains(.postgres)))
    func sealingOrderOnPostgres() async throws {
        let opened = try await StoreUnderTest.open(.postgres)
        let postgres = try #require(opened.postgres)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        #expect(try await opened.seal() == 1)
        // A writer that takes its transaction id first and appends its event last: the event
        // gets a higher id than the one a later writer appends meanwhile.
        let early = Task {
            try await postgres.executeForTests(
                "SELECT pg_current_xact_id()", "SELECT pg_sleep(1)",
                "INSERT INTO events (occurred_at, type, list_id, source, detail) VALUES (now(), 'list_updated', 1, 'cli', '{}')")
        }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await lists.createList(try .sample("later"), source: .cli)
        #expect(try await opened.seal() == 0, "the later writer's event waits for the earlier writer")
        #expect(try await verify(opened).unsealed == 1)
        try await early.value
        #expect(try await opened.seal() == 2)
        #expect(try await chain(opened).map(\.eventID) == [1, 3, 2], "in (written_by, id) order, not id order")
        let result = try await verify(opened)
        #expect(result.isIntact && result.sealed == 3 && result.unsealed == 0, "\(result.problem ?? "")")
    }

    // MARK: Verification

    /// Four sealed events (four lists), with the triggers that would refuse tampering
    /// dropped (SQLite) or disabled (PostgreSQL), as someone with the database's owner's
    /// rights could.
    func tamperable(_ kind: StoreKind) async throws -> StoreUnderTest {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        for slug in ["news", "a", "b", "c"] {
            _ = try await lists.createList(try .sample(slug), source: .cli)
        }
        #expect(try await opened.seal() == 4)
        try await opened.behindTheBack(
            sqlite: """
                DROP TRIGGER events_are_append_only_update; DROP TRIGGER events_are_append_only_delete;
                DROP TRIGGER event_chain_is_append_only_update; DROP TRIGGER event_chain_is_append_only_delete;
                DROP TRIGGER event_chain_extends_its_head;
                """,
            postgres: ["ALTER TABLE events DISABLE TRIGGER USER", "ALTER TABLE event_chain DISABLE TRIGGER USER"])
        return opened
    }

    /// Recomputes every chain row from `position` on, as a forger covering an edit would.
    func rehash(from position: Int, in opened: StoreUnderTest) async throws {
        var previous = try await opened.value("SELECT hash FROM event_chain WHERE position = \(position - 1)")
            ?? LedgerCheckpoint.genesisHash
        let rows = try await opened.rows("""
            SELECT c.position, c.hash, e.occurred_at, e.type, e.list_id, e.address_hash, e.source, e.consent_version, e.detail
            FROM event_chain c JOIN events e ON e.id = c.event_id WHERE c.position >= \(position) ORDER BY c.position
            """)
        for row in rows {
            let hash = Self.recomputed(row, prevHash: previous)
            try await opened.behindTheBack(
                "UPDATE event_chain SET prev_hash = '\(previous)', hash = '\(hash)' WHERE position = \(row[0] ?? "")")
            previous = hash
        }
    }

    @Test("an intact ledger verifies with its sealed count and head hash", arguments: StoreKind.underTest)
    func intact(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        _ = try await opened.as((any ListStore).self).createList(try .sample("news"), source: .cli)
        try await opened.seal()
        let result = try await verify(opened)
        #expect(result.isIntact)
        #expect(result.sealed == 1)
        #expect(result.unsealed == 0)
        #expect(result.head.hash.count == 64 && result.head.hash != LedgerCheckpoint.genesisHash)
        #expect(result.appendOnlyTriggersPresent)
    }

    @Test("events not sealed yet are counted as the unsealed tail, not as a problem", arguments: StoreKind.underTest)
    func unsealedTail(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        try await opened.seal()
        _ = try await lists.createList(try .sample("other"), source: .cli)
        _ = try await lists.archiveList(try ListSlug("other"), source: .cli)
        let result = try await verify(opened)
        #expect(result.isIntact)
        #expect(result.sealed == 1)
        #expect(result.unsealed == 2)
    }

    @Test("an empty ledger verifies, its head the genesis hash", arguments: StoreKind.underTest)
    func empty(_ kind: StoreKind) async throws {
        let result = try await verify(try await StoreUnderTest.open(kind))
        #expect(result.isIntact)
        #expect(result.head == .empty)
    }

    @Test("an event edited with the triggers out of the way is named as the first broken link", arguments: StoreKind.underTest)
    func editedEvent(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        try await opened.behindTheBack(#"UPDATE events SET detail = '{"slug":"forged"}' WHERE id = 3"#)
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .contentMismatch))
        #expect(result.problem?.contains("event 3") == true)
        #expect(result.sealed == 2)
        #expect(!result.isIntact)
        #expect(!result.appendOnlyTriggersPresent)
    }

    @Test("an edit with a recomputed hash is found at the next event", arguments: StoreKind.underTest)
    func rehashedEdit(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        let row = try #require(try await opened.rows("""
            SELECT c.prev_hash, c.hash, e.occurred_at, e.type, e.list_id, e.address_hash, e.source, e.consent_version, e.detail
            FROM events e JOIN event_chain c ON c.event_id = e.id WHERE e.id = 2
            """).first)
        let forged = Self.recomputed(row, prevHash: row[0] ?? "", detail: #"{"slug":"forged"}"#)
        try await opened.behindTheBack(#"UPDATE events SET detail = '{"slug":"forged"}' WHERE id = 2"#)
        try await opened.behindTheBack("UPDATE event_chain SET hash = '\(forged)' WHERE event_id = 2")
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .previousHashMismatch(previousID: 2)))
    }

    @Test("a removed event is named: gone from the ledger while the chain still seals it", arguments: StoreKind.underTest)
    func removedEvent(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        // With the foreign keys off too: the chain's reference would refuse it otherwise.
        try await opened.behindTheBack(
            sqlite: "PRAGMA foreign_keys = OFF; DELETE FROM events WHERE id = 2; PRAGMA foreign_keys = ON;",
            postgres: ["SET LOCAL session_replication_role = replica", "DELETE FROM events WHERE id = 2"])
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: 2, reason: .eventMissing))
        #expect(result.sealed == 1)
    }

    @Test("an event removed with its chain row is found at the one after it", arguments: StoreKind.underTest)
    func removedWithItsLink(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        try await opened.behindTheBack(
            sqlite: "DELETE FROM event_chain WHERE position = 2; DELETE FROM events WHERE id = 2;",
            postgres: ["DELETE FROM event_chain WHERE position = 2", "DELETE FROM events WHERE id = 2"])
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 3, reason: .positionsMissing(after: 1)))
    }

    @Test("an event whose chain row was removed and the rest re-linked and re-hashed is found outside the chain",
          arguments: StoreKind.underTest)
    func relinkedAroundAnEvent(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        try await opened.behindTheBack(
            sqlite: "DELETE FROM event_chain WHERE position = 2; UPDATE event_chain SET position = position - 1 WHERE position > 2;",
            postgres: [
                "DELETE FROM event_chain WHERE position = 2",
                "UPDATE event_chain SET position = 2 WHERE position = 3",
                "UPDATE event_chain SET position = 3 WHERE position = 4",
            ])
        try await rehash(from: 2, in: opened)
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: nil, reason: .notInChain(headEventID: 4)))
        #expect(result.problem?.contains("event 2") == true)
    }

    @Test("an event inserted below the head behind the sealer's back is found outside the chain", arguments: StoreKind.underTest)
    func strayEvent(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        // An event with an id below the head's, never sealed: on PostgreSQL it also claims
        // a writer below the head's, as a forger copying a sealed event's would.
        try await opened.behindTheBack(
            sqlite: """
                INSERT INTO events (id, occurred_at, type, list_id, source, detail)
                VALUES (0, '2026-11-21T00:00:00.000Z', 'list_updated', 1, 'cli', '{}')
                """,
            postgres: ["""
                INSERT INTO events (id, occurred_at, type, list_id, source, detail, written_by)
                VALUES (0, '2026-11-21T00:00:00.000Z', 'list_updated', 1, 'cli', '{}', (SELECT written_by FROM events WHERE id = 1))
                """])
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 0, position: nil, reason: .notInChain(headEventID: 4)))
        #expect(result.sealed == 4)
    }

    @Test("two sealed events swapped in the chain are found where the order breaks", arguments: StoreKind.underTest)
    func reordered(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        let swap = [
            "UPDATE event_chain SET position = 100 WHERE position = 2",
            "UPDATE event_chain SET position = 2 WHERE position = 3",
            "UPDATE event_chain SET position = 3 WHERE position = 100",
        ]
        try await opened.behindTheBack(sqlite: swap.joined(separator: ";\n"), postgres: swap)
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 3, position: 2, reason: .previousHashMismatch(previousID: 1)))
    }

    @Test("a chain reordered and re-hashed whole is found by its order", arguments: StoreKind.underTest)
    func reorderedAndRehashed(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        let swap = [
            "UPDATE event_chain SET event_id = 100 WHERE position = 2",
            "UPDATE event_chain SET event_id = 2 WHERE position = 3",
            "UPDATE event_chain SET event_id = 3 WHERE position = 2",
        ]
        try await opened.behindTheBack(
            sqlite: "BEGIN; PRAGMA defer_foreign_keys = ON; " + swap.joined(separator: "; ") + "; COMMIT;",
            postgres: ["SET LOCAL session_replication_role = replica"] + swap)
        try await rehash(from: 2, in: opened)
        let result = try await verify(opened)
        #expect(result.firstBreak == LedgerBreak(eventID: 2, position: 3, reason: .outOfOrder(previousID: 3)))
    }

    @Test("a chain re-hashed from an edited event verifies alone, but not against a checkpoint taken before",
          arguments: StoreKind.underTest)
    func rewrittenAgainstCheckpoint(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        let checkpoint = try await verify(opened).head
        #expect(checkpoint.count == 4)
        try await opened.behindTheBack(#"UPDATE events SET detail = '{"slug":"forged"}' WHERE id = 2"#)
        try await rehash(from: 2, in: opened)
        #expect(try await verify(opened).isIntact, "re-hashed whole, the chain holds together")
        let result = try await verify(opened, against: checkpoint)
        #expect(!result.isIntact)
        #expect(result.firstBreak == nil)
        guard case .differentHash(let expected, let found) = result.checkpointMismatch else {
            Issue.record("expected a different hash, got \(String(describing: result.checkpointMismatch))")
            return
        }
        #expect(expected == checkpoint && found != checkpoint.hash && found.count == 64)
    }

    @Test("a chain cut short below a checkpoint is found as truncated", arguments: StoreKind.underTest)
    func truncatedAgainstCheckpoint(_ kind: StoreKind) async throws {
        let opened = try await tamperable(kind)
        let checkpoint = try await verify(opened).head
        try await opened.behindTheBack("DELETE FROM event_chain WHERE position > 2")
        let result = try await verify(opened, against: checkpoint)
        #expect(result.checkpointMismatch == .shorter(checkpoint: checkpoint, sealed: 2))
        #expect(result.sealed == 2)
    }

    @Test("a chain that grew past a checkpoint still extends it", arguments: StoreKind.underTest)
    func grownPastCheckpoint(_ kind: StoreKind) async throws {
        let opened = try await StoreUnderTest.open(kind)
        let lists = try opened.as((any ListStore).self)
        _ = try await lists.createList(try .sample("news"), source: .cli)
        try await opened.seal()
        let checkpoint = try await verify(opened).head
        _ = try await lists.createList(try .sample("other"), source: .cli)
        try await opened.seal()
        let result = try await verify(opened, against: checkpoint)
        #expect(result.isIntact)
        #expect(result.sealed == 2)
        #expect(try await verify(opened, against: .empty).isIntact, "every chain extends the empty one")
    }
}

/// What the concurrent sealers did, and whether the writers are still at it.
private actor Tally {
    private(set) var writing = true
    private(set) var sealed: [String: Int] = [:]

    func stopWriting() { writing = false }
    func add(_ count: Int, by holder: String) { sealed[holder, default: 0] += count }
}
