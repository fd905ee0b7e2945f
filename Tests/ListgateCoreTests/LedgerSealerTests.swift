// The sealer (README, "The ledger: durable now, sealed soon"): events appended by
// concurrent writers are each sealed exactly once, in id order, with no gap; one sealer
// at a time, by the lease in the database, and another takes over when it expires.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Ledger sealer")
struct LedgerSealerTests {
    func chain(_ database: MigratedDatabase) async throws -> [(position: Int64, eventID: Int64)] {
        try await database.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT position, event_id FROM event_chain ORDER BY position")
                .map { ($0["position"], $0["event_id"]) }
        }
    }

    func lease(_ database: MigratedDatabase) throws -> Row? {
        try database.store.pool.read { try Row.fetchOne($0, sql: "SELECT holder, expires_at FROM leases") }
    }

    @Test("under concurrent writers and two competing sealers, every event is sealed exactly once, in id order, with no gap")
    func concurrentWriters() async throws {
        let database = try await MigratedDatabase.make()
        let store = database.store
        _ = try await store.createList(try .sample("news"), source: .cli)
        let tally = Tally()

        // Two sealers poll as fast as they can, in small batches, with a short lease, so
        // they meet often: the lease must keep them from sealing anything twice.
        let sealers = (0..<2).map { index in
            Task {
                let holder = "sealer-\(index)"
                while true {
                    let stillWriting = await tally.writing
                    let pass = try await store.sealLedger(as: holder, lease: .milliseconds(300), batch: 37, releasingWhenDone: false)
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
                    for n in 0..<120 {
                        _ = try await store.addSubscriber(
                            NewSubscriber(address: EmailAddress("w\(writer)-\(n)@example.org"), list: ListSlug("news"), confirmed: true),
                            source: .cli, at: Date())
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

        let events = try await store.pool.read { try Int64.fetchAll($0, sql: "SELECT id FROM events ORDER BY id") }
        #expect(events.count == 1 + 4 * 120)
        let sealed = try await chain(database)
        #expect(sealed.map(\.position) == Array(1...Int64(events.count)), "positions 1…N, no gap, no duplicate")
        #expect(sealed.map(\.eventID) == events, "every event once, in id order")
        let counts = await tally.sealed
        #expect(counts.values.reduce(0, +) == events.count, "\(counts)")
        let result = try await store.verifyLedger(against: nil) { _ in }
        #expect(result.isIntact)
        #expect(result.sealed == events.count && result.unsealed == 0)
    }

    @Test("while one holder's lease is live another seals nothing; once it expires, the other takes over and seals the tail")
    func leaseHandover() async throws {
        let database = try await MigratedDatabase.make()
        let store = database.store
        _ = try await store.createList(try .sample("news"), source: .cli)
        let first = try await store.sealLedger(as: "a", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        #expect(first.sealedCount == 1)

        // "a" now stops, as a process killed mid-work would: its lease stays until it expires.
        _ = try await store.createList(try .sample("other"), source: .cli)
        let blocked = try await store.sealLedger(as: "b", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        guard case .leaseHeld(let holder, let until) = blocked else {
            Issue.record("b sealed while a's lease was live: \(blocked)")
            return
        }
        #expect(holder == "a")
        #expect(until.map { $0 > Date() } == true)
        #expect(try await store.sealPending(as: "c", lease: .seconds(10)) == blocked, "a command's seal on exit waits its turn too")
        #expect(try await store.verifyLedger(against: nil) { _ in }.unsealed == 1)

        try await Task.sleep(for: .milliseconds(1700))
        let takeover = try await store.sealLedger(as: "b", lease: .milliseconds(1500), batch: 100, releasingWhenDone: false)
        #expect(takeover.sealedCount == 1)
        #expect(try lease(database)?["holder"] == "b")
        let result = try await store.verifyLedger(against: nil) { _ in }
        #expect(result.isIntact && result.sealed == 2 && result.unsealed == 0)
        #expect(try await chain(database).map(\.eventID) == [1, 2])
    }

    @Test("a holder that gives its lease back lets the next sealer in at once")
    func release() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        #expect(try await database.store.sealLedger(as: "a", lease: .seconds(60), batch: 100, releasingWhenDone: false).sealedCount == 1)
        _ = try await database.store.createList(try .sample("other"), source: .cli)
        try await database.store.releaseSealerLease(held: "a")
        #expect(try await database.store.sealLedger(as: "b", lease: .seconds(60), batch: 100, releasingWhenDone: false).sealedCount == 1)
        try await database.store.releaseSealerLease(held: "a")
        #expect(try lease(database)?["holder"] == "b", "giving back a lease one does not hold changes nothing")
    }

    @Test("sealing on exit seals a backlog in batches and leaves the lease free")
    func sealPendingDrains() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        for n in 0..<25 {
            _ = try await database.store.addSubscriber(
                NewSubscriber(address: EmailAddress("p\(n)@example.org"), list: ListSlug("news"), confirmed: true), source: .cli, at: Date())
        }
        let pass = try await database.store.sealPending(as: "cli", lease: .seconds(10), batch: 10)
        #expect(pass.sealedCount == 26)
        #expect(try lease(database) == nil)
        #expect(try await database.store.verifyLedger(against: nil) { _ in }.sealed == 26)
        #expect(try await database.store.sealPending(as: "cli", lease: .seconds(10)) == .sealed(count: 0, more: false, oldest: nil))
        #expect(try lease(database) == nil, "nothing to seal: the lease is not even taken")
    }

    @Test("an idle holder renews its lease only once half of it is gone")
    func idleRenewal() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        _ = try await database.store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        let taken: String = try #require(try lease(database)?["expires_at"])
        _ = try await database.store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        #expect(try lease(database)?["expires_at"] == taken, "a fresh lease and nothing to seal: no write")
        try await Task.sleep(for: .milliseconds(600))
        _ = try await database.store.sealLedger(as: "a", lease: .milliseconds(1000), batch: 100, releasingWhenDone: false)
        let renewed: String = try #require(try lease(database)?["expires_at"])
        #expect(renewed > taken)
    }

    @Test("the sealer's hashes are the canonical ones: the same as hashing each event on its own")
    func canonicalHashes() async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        _ = try await database.store.addSubscriber(
            NewSubscriber(address: EmailAddress("yamada@example.jp"), list: ListSlug("news"), name: "山田 太郎", confirmed: true),
            source: .cli, at: Date())
        try await database.store.setOutboxPaused(true, reason: "メンテナンス", source: .cli)
        try await database.seal()
        let rows = try database.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event_chain c JOIN events e ON e.id = c.event_id ORDER BY c.position")
        }
        var previous = EventLedger.genesisHash
        for row in rows {
            #expect(row["prev_hash"] == previous)
            previous = EventLedger.chainHash(
                prevHash: previous, occurredAt: row["occurred_at"], type: row["type"], listID: row["list_id"],
                addressHash: row["address_hash"], source: row["source"], consentVersion: row["consent_version"],
                detail: row["detail"])
            #expect(row["hash"] == previous)
        }
        #expect(rows.count == 3)
    }
}

/// What the concurrent sealers did, and whether the writers are still at it.
private actor Tally {
    private(set) var writing = true
    private(set) var sealed: [String: Int] = [:]

    func stopWriting() { writing = false }
    func add(_ count: Int, by holder: String) { sealed[holder, default: 0] += count }
}
