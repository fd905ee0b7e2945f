// The schema enforces invariants by itself: these tests go around the store and talk
// SQL directly, as a buggy future caller would, and expect the database to refuse.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Schema constraints")
struct SchemaTests {
    let now = "2026-11-21T00:00:00.000Z"
    let hash = String(repeating: "a", count: 64)

    func makeListAndEvent() async throws -> MigratedDatabase {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample(), source: .cli)
        return database
    }

    // MARK: The event ledger is append-only

    @Test("the ledger refuses UPDATE at the SQL level")
    func ledgerRefusesUpdate() async throws {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write { try $0.execute(sql: "UPDATE events SET source = 'tampered'") }
        }
        let sources = try await db.read { try String.fetchAll($0, sql: "SELECT source FROM events") }
        #expect(sources == ["cli"])
    }

    @Test("the ledger refuses DELETE at the SQL level")
    func ledgerRefusesDelete() async throws {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.write { try $0.execute(sql: "DELETE FROM events") }
        }
        #expect(error?.message?.contains("append-only") == true)
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") } == 1)
    }

    @Test("the chain refuses UPDATE and DELETE at the SQL level, like the events it seals")
    func chainIsAppendOnly() async throws {
        let database = try await makeListAndEvent()
        try await database.seal()
        let db = try database.rawConnection()
        for sql in ["UPDATE event_chain SET hash = prev_hash", "DELETE FROM event_chain"] {
            let error = await #expect(throws: DatabaseError.self, "\(sql)") { try await db.write { try $0.execute(sql: sql) } }
            #expect(error?.message?.contains("append-only") == true)
        }
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event_chain") } == 1)
    }

    @Test("the chain grows only at its head: the next position, from the head's hash, for a newer event")
    func chainGrowsAtItsHead() async throws {
        let database = try await makeListAndEvent()
        try await database.seal()
        _ = try await database.store.createList(try .sample("other"), source: .cli)
        let db = try database.rawConnection()
        let head = try await db.read { try String.fetchOne($0, sql: "SELECT hash FROM event_chain WHERE position = 1") } ?? ""
        let wrong: [(position: Int, eventID: Int, prev: String)] = [
            (3, 2, head),  // a gap
            (2, 2, hash),  // not from the head's hash
            (2, 1, head),  // an event already sealed
        ]
        for link in wrong {
            let error = await #expect(throws: DatabaseError.self, "\(link)") {
                try await db.write { db in
                    try db.execute(
                        sql: "INSERT INTO event_chain (position, event_id, prev_hash, hash) VALUES (?, ?, ?, ?)",
                        arguments: [link.position, link.eventID, link.prev, hash])
                }
            }
            #expect(error?.message?.contains("grows only at its head") == true)
        }
        try await db.write { db in
            try db.execute(
                sql: "INSERT INTO event_chain (position, event_id, prev_hash, hash) VALUES (2, 2, ?, ?)", arguments: [head, hash])
        }
    }

    @Test("the ledger takes every event type the code knows and refuses any other")
    func ledgerVocabulary() async throws {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        func insert(_ type: String) async throws {
            try await db.write { db in
                try db.execute(sql: """
                    INSERT INTO events (occurred_at, type, source) VALUES (?, ?, 'test')
                    """, arguments: [now, type])
            }
        }
        for type in EventType.allCases { try await insert(type.rawValue) }
        let error = await #expect(throws: DatabaseError.self) { try await insert("list_deleted") }
        #expect(error?.message?.contains("unknown event type") == true)
    }

    // MARK: Snapshot approvals (0015)

    /// A list, a token, and a snapshot of 3 members needing 2 approvals, taken by that token.
    func makeSnapshotAwaitingApproval() async throws -> DatabaseQueue {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO api_tokens (public_id, list_id, token_sha256, created_at) VALUES ('tok_creator', 1, ?, ?)
                """, arguments: [hash, now])
            try db.execute(sql: """
                INSERT INTO snapshots (public_id, list_id, token_id, count, sha256, created_at, approvals_required)
                VALUES ('snap_approvals_0001', 1, 1, 3, ?, ?, 2)
                """, arguments: ["abcdef0123456789" + String(repeating: "0", count: 48), now])
        }
        return db
    }

    func approve(_ db: DatabaseQueue, approver: String = "admin:alice", tokenID: Int? = nil, count: Int = 3,
                 prefix: String = "abcdef01") async throws {
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO snapshot_approvals (snapshot_id, approver, token_id, count, sha256_prefix, approved_at)
                VALUES (1, ?, ?, ?, ?, ?)
                """, arguments: [approver, tokenID, count, prefix, now])
        }
    }

    @Test("a list requires 0 to 9 snapshot approvals, and a snapshot freezes a number in the same range")
    func approvalCountsAreBounded() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        try await db.write { try $0.execute(sql: "UPDATE lists SET snapshot_approvals = 9") }
        for sql in ["UPDATE lists SET snapshot_approvals = 10", "UPDATE lists SET snapshot_approvals = -1",
                    "UPDATE snapshots SET approvals_required = 10"] {
            await #expect(throws: DatabaseError.self, "\(sql)") { try await db.write { try $0.execute(sql: sql) } }
        }
    }

    @Test("an approval of the snapshot's exact count and a prefix of its sha256 is recorded")
    func matchingApprovalIsRecorded() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        try await approve(db, prefix: "abcdef0123456789")
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM snapshot_approvals") } == 1)
    }

    @Test("the schema refuses an approval of another count, another sha256, or a snapshot that needs none")
    func mismatchedApprovalIsRefused() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        for (count, prefix) in [(4, "abcdef01"), (3, "abcdef02")] {
            let error = await #expect(throws: DatabaseError.self) { try await approve(db, count: count, prefix: prefix) }
            #expect(error?.message?.contains("an approval must match its snapshot") == true)
        }
        try await db.write { try $0.execute(sql: "UPDATE snapshots SET approvals_required = 0") }
        let error = await #expect(throws: DatabaseError.self) { try await approve(db) }
        #expect(error?.message?.contains("an approval must match its snapshot") == true)
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM snapshot_approvals") } == 0)
    }

    @Test("the schema refuses an approval by the token that took the snapshot")
    func creatorCannotApprove() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        let error = await #expect(throws: DatabaseError.self) {
            try await approve(db, approver: "token:tok_creator", tokenID: 1)
        }
        #expect(error?.message?.contains("not its creator") == true)
    }

    @Test("the schema refuses a short or upper-case prefix and an approver without its kind")
    func approvalShapeIsChecked() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        for (approver, prefix) in [("admin:alice", "abcdef0"), ("admin:alice", "ABCDEF01"), ("alice", "abcdef01"),
                                   ("admin:", "abcdef01")] {
            await #expect(throws: DatabaseError.self, "\(approver) \(prefix)") {
                try await approve(db, approver: approver, prefix: prefix)
            }
        }
    }

    @Test("one approver is recorded once per snapshot")
    func approverIsRecordedOnce() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        try await approve(db)
        await #expect(throws: DatabaseError.self) { try await approve(db) }
    }

    @Test("approvals are never changed or deleted at the SQL level")
    func approvalsAreAppendOnly() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        try await approve(db)
        for sql in ["UPDATE snapshot_approvals SET count = 4", "DELETE FROM snapshot_approvals"] {
            let error = await #expect(throws: DatabaseError.self, "\(sql)") { try await db.write { try $0.execute(sql: sql) } }
            #expect(error?.message?.contains("snapshot approvals are never") == true)
        }
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM snapshot_approvals") } == 1)
    }

    @Test("once approved, a snapshot's count, sha256, required approvals, list and creator never change")
    func approvedSnapshotIsFrozen() async throws {
        let db = try await makeSnapshotAwaitingApproval()
        try await approve(db)
        for sql in ["UPDATE snapshots SET count = 4", "UPDATE snapshots SET sha256 = '\(String(repeating: "c", count: 64))'",
                    "UPDATE snapshots SET approvals_required = 1", "UPDATE snapshots SET token_id = NULL"] {
            let error = await #expect(throws: DatabaseError.self, "\(sql)") { try await db.write { try $0.execute(sql: sql) } }
            #expect(error?.message?.contains("an approved snapshot's audience never changes") == true, "\(sql)")
        }
        try await db.write { try $0.execute(sql: "UPDATE snapshots SET approved_at = ?, erased = erased + 1", arguments: [now]) }
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count FROM snapshots") } == 3)
    }

    // MARK: The outbox holds one recipient per message

    func insertOutbox(_ recipient: String, into db: DatabaseQueue, messageID: String = "<m1@listgate.test>") async throws {
        try await db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, raw_message,
                                        next_attempt_at, created_at, updated_at)
                    VALUES (?, (SELECT id FROM lists LIMIT 1), 'confirmation', ?, ?, x'00', ?, ?, ?)
                    """,
                arguments: [messageID, recipient, hash, now, now, now])
        }
    }

    static let secondRecipientAttempts = [
        "a@example.org, b@example.org",
        "a@example.org,b@example.org",
        "a@example.org; b@example.org",
        "a@example.org b@example.org",
        "A <a@example.org>",
        "<a@example.org>",
        "a@example.org\r\nBcc: b@example.org",
        "a@example.org\nCc: b@example.org",
        "a@example.org\tb@example.org",
        "a@example.org@b.example.org,",
        "undisclosed-recipients:;",
        "a@",
        "@example.org",
        "everyone",
    ]

    @Test("the outbox refuses anything that is not exactly one address", arguments: secondRecipientAttempts)
    func outboxRefusesSecondRecipient(_ recipient: String) async throws {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        let error = await #expect(throws: DatabaseError.self) { try await insertOutbox(recipient, into: db) }
        #expect(error?.resultCode == .SQLITE_CONSTRAINT)
        #expect(try await db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM outbox") } == 0)
    }

    @Test("the outbox accepts a single address", arguments: [
        "a@example.org", "first.last+tag@mail.example.co.jp", "user@xn--r8jz45g.jp", "山田@example.jp",
    ])
    func outboxAcceptsOneRecipient(_ recipient: String) async throws {
        let database = try await makeListAndEvent()
        let db = try database.rawConnection()
        try await insertOutbox(recipient, into: db)
        #expect(try await db.read { try String.fetchOne($0, sql: "SELECT recipient FROM outbox") } == recipient)
    }

    @Test("the outbox table has no column that could hold a second recipient")
    func outboxHasOneRecipientColumn() async throws {
        let database = try await MigratedDatabase.make()
        let columns = try await database.rawConnection().read { try $0.columns(in: "outbox").map(\.name) }
        let recipientLike = columns.filter { column in
            ["recipient", "to", "cc", "bcc", "rcpt"].contains { column.contains($0) }
        }
        #expect(recipientLike == ["recipient"])
    }

    // MARK: States and uniqueness

    func insertAddress(_ db: Database, key: String = "a@example.org") throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO addresses (email, identity_key, address_hash, created_at) VALUES (?, ?, ?, ?)",
            arguments: [key, key, SHA256Hex.of(key), now])
        return db.lastInsertedRowID
    }

    func insertSubscription(_ db: Database, addressID: Int64, status: String, subscribedAt: String? = nil) throws {
        try db.execute(
            sql: """
                INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
                VALUES ((SELECT id FROM lists LIMIT 1), ?, ?, 'admin', ?, ?, ?)
                """,
            arguments: [addressID, status, now, now, subscribedAt])
    }

    @Test("a subscription state outside the state machine is refused", arguments: ["everyone", "all", "", "ACTIVE"])
    func refusesUnknownState(_ status: String) async throws {
        let db = try await makeListAndEvent().rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write { db in try insertSubscription(db, addressID: try insertAddress(db), status: status, subscribedAt: now) }
        }
    }

    @Test("an active subscription needs the time it became active")
    func activeNeedsSubscribedAt() async throws {
        let db = try await makeListAndEvent().rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write { db in try insertSubscription(db, addressID: try insertAddress(db), status: "active") }
        }
    }

    @Test("an address is on a list at most once")
    func uniquePerListAndAddress() async throws {
        let db = try await makeListAndEvent().rawConnection()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.write { db in
                let id = try insertAddress(db)
                try insertSubscription(db, addressID: id, status: "pending")
                try insertSubscription(db, addressID: id, status: "active", subscribedAt: now)
            }
        }
        #expect(error?.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE)
    }

    @Test("two address rows cannot share an identity key")
    func uniqueIdentityKey() async throws {
        let db = try await makeListAndEvent().rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write { db in
                _ = try insertAddress(db, key: "a@example.org")
                try db.execute(
                    sql: "INSERT INTO addresses (email, identity_key, address_hash, created_at) VALUES (?, ?, ?, ?)",
                    arguments: ["A@Example.org", "a@example.org", hash, now])
            }
        }
    }

    @Test("a global suppression is unique per address even though its list is NULL")
    func uniqueGlobalSuppression() async throws {
        let db = try await makeListAndEvent().rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write { db in
                for _ in 0..<2 {
                    try db.execute(
                        sql: "INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (NULL, ?, 'admin', ?)",
                        arguments: [hash, now])
                }
            }
        }
    }

    @Test("a subscription must belong to an existing list (foreign keys are on)")
    func foreignKeysEnforced() async throws {
        let database = try await MigratedDatabase.make()
        try await database.store.pool.write { db in
            let id = try insertAddress(db)
            #expect(throws: DatabaseError.self) {
                try db.execute(
                    sql: """
                        INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at)
                        VALUES (999, ?, 'pending', 'admin', ?, ?)
                        """,
                    arguments: [id, now, now])
            }
        }
    }

    @Test("list slugs are checked by the database too", arguments: ["News", "-news", "news letter", "", String(repeating: "a", count: 64)])
    func slugCheck(_ slug: String) async throws {
        let db = try await MigratedDatabase.make().rawConnection()
        await #expect(throws: DatabaseError.self) {
            try await db.write {
                try $0.execute(
                    sql: "INSERT INTO lists (slug, name, from_email, created_at) VALUES (?, 'x', 'a@example.org', ?)",
                    arguments: [slug, now])
            }
        }
    }

    @Test("the database runs in WAL mode")
    func walMode() async throws {
        let database = try await MigratedDatabase.make()
        let mode = try await database.store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}
