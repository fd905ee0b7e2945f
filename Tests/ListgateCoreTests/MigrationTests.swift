// Specification of `listgate migrate`: order, idempotence, and the refusals that keep
// a database from being run by code that does not understand it.
import Foundation
import GRDB
import Testing
@testable import ListgateCore
@testable import ListgateSQLite

@Suite("Migrations")
struct MigrationTests {
    /// Writes migration files into a directory and loads them the way the binary does.
    func migrations(_ files: [String: String], in directory: TemporaryDirectory) throws -> [Migration] {
        let folder = directory.url.appendingPathComponent("Migrations")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, sql) in files {
            try sql.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return try Migration.load(from: folder)
    }

    let first = "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);"
    let second = "ALTER TABLE settings ADD COLUMN note TEXT;"  // only valid after the first

    @Test("applies migration files in name order, whatever order they are found in")
    func appliesInNameOrder() async throws {
        let directory = try TemporaryDirectory()
        let files = try migrations(["0002_add_note.sql": second, "0001_settings.sql": first], in: directory)
        #expect(files.map(\.name) == ["0001_settings.sql", "0002_add_note.sql"])
        let store = try SQLiteStore(path: directory.path("db.sqlite3"), migrations: files)
        let applied = try await store.migrate()
        #expect(applied == ["0001_settings.sql", "0002_add_note.sql"])
        let columns = try await store.pool.read { db in try db.columns(in: "settings").map(\.name) }
        #expect(columns.contains("note"))
    }

    @Test("records each applied migration with its SHA-256 checksum")
    func recordsChecksums() async throws {
        let directory = try TemporaryDirectory()
        let files = try migrations(["0001_settings.sql": first], in: directory)
        let store = try SQLiteStore(path: directory.path("db.sqlite3"), migrations: files)
        _ = try await store.migrate()
        let recorded = try store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT name, checksum FROM schema_migrations")
        }
        #expect(recorded?["name"] == "0001_settings.sql")
        // sha256 of the file's bytes, computed independently of Migration.checksum
        let expected = SHA256Hex.of(first)
        #expect(recorded?["checksum"] == expected)
    }

    @Test("a second run applies nothing")
    func secondRunIsNoOp() async throws {
        let database = try await MigratedDatabase.make()
        let again = try await database.store.migrate()
        #expect(again.isEmpty)
        try await database.store.checkSchema()
    }

    @Test("the bundled migrations build the whole schema")
    func bundledSchema() async throws {
        let database = try await MigratedDatabase.make()
        let tables = try await database.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        for table in [
            "addresses", "api_tokens", "events", "list_allowed_addresses", "lists", "outbox", "settings",
            "snapshot_members", "snapshots", "submissions", "subscriptions", "suppressions", "feedback_reports",
            "soft_bounces",
        ] {
            #expect(tables.contains(table), "missing table \(table)")
        }
    }

    @Test("0004 counts the members a forget removed from a snapshot taken before it as erased")
    func snapshotErasedBackfill() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("listgate.sqlite3")
        let bundled = try Migration.bundled()
        let before = bundled.filter { $0.name < "0004" }
        #expect(bundled.contains { $0.name == "0004_snapshot_erased.sql" })
        let store = try SQLiteStore(path: path, migrations: before)
        _ = try await store.migrate()
        // As a forget by an earlier listgate left it: three members frozen, two remaining.
        // (The list is written as that listgate wrote it: today's has columns it lacked.)
        try await store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO lists (slug, name, from_email, locale, created_at)
                VALUES ('news', 'News', 'news@example.org', 'en', '2026-01-01T00:00:00.000Z')
                """)
            try db.execute(sql: """
                INSERT INTO snapshots (public_id, list_id, count, sha256, created_at)
                VALUES ('snapshot-before-0004', ?, 3, ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [db.lastInsertedRowID, String(repeating: "0", count: 64)])
            let snapshotID = db.lastInsertedRowID
            for key in ["a@example.org", "b@example.org"] {
                try db.execute(sql: """
                    INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, subscribed_at)
                    VALUES (?, 1, ?, ?, '2026-01-01T00:00:00.000Z')
                    """, arguments: [snapshotID, key, key])
            }
        }

        let upgraded = try SQLiteStore(path: path, migrations: bundled)
        #expect(try await upgraded.migrate().contains("0004_snapshot_erased.sql"))
        let snapshot = try #require(try await upgraded.snapshot(id: "snapshot-before-0004"))
        #expect(snapshot.count == 3)
        #expect(snapshot.erased == 1)
    }

    /// Appends an event as listgate did before 0010: the row carries its own chain link,
    /// computed from the newest row's hash.
    @discardableResult
    static func legacyAppend(
        _ type: String, listID: Int64? = nil, addressHash: String? = nil, consentVersion: String? = nil,
        detail: String = "{}", source: String = "cli", in db: Database
    ) throws -> String {
        let previous = try String.fetchOne(db, sql: "SELECT hash FROM events ORDER BY id DESC LIMIT 1") ?? EventLedger.genesisHash
        let occurredAt = Timestamp.string(Date())
        let hash = EventLedger.chainHash(
            prevHash: previous, occurredAt: occurredAt, type: type, listID: listID, addressHash: addressHash, source: source,
            consentVersion: consentVersion, detail: detail)
        try db.execute(sql: """
            INSERT INTO events (occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [occurredAt, type, listID, addressHash, source, consentVersion, detail, previous, hash])
        return hash
    }

    @Test("0006 and 0010 carry a chain written inline, row by row, over intact: it verifies with the same head")
    func eventVocabularyKeepsTheChain() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("listgate.sqlite3")
        let bundled = try Migration.bundled()
        let store = try SQLiteStore(path: path, migrations: bundled.filter { $0.name < "0006" })
        _ = try await store.migrate()
        let head = try await store.pool.write { db -> String in
            try db.execute(sql: """
                INSERT INTO lists (slug, name, from_email, locale, created_at)
                VALUES ('news', 'News', 'news@example.org', 'en', '2026-01-01T00:00:00.000Z')
                """)
            var head = ""
            for _ in 0..<5 { head = try Self.legacyAppend("list_updated", listID: 1, detail: #"{"name.after":"News"}"#, in: db) }
            return head
        }

        let upgraded = try SQLiteStore(path: path, migrations: bundled)
        let applied = try await upgraded.migrate()
        #expect(applied.contains("0006_event_vocabulary.sql") && applied.contains("0010_sealed_ledger.sql"))
        let after = try await upgraded.verifyLedger(against: LedgerCheckpoint(count: 5, hash: head)) { _ in }
        #expect(after.isIntact)
        #expect(after.head == LedgerCheckpoint(count: 5, hash: head))
        #expect(after.unsealed == 0)
        #expect(after.appendOnlyTriggersPresent)
    }

    @Test("0010 moves the chain beside the ledger: positions in id order, every hash kept, new events seal onto its head")
    func sealedLedgerKeepsTheChain() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("listgate.sqlite3")
        let bundled = try Migration.bundled()
        let store = try SQLiteStore(path: path, migrations: bundled.filter { $0.name < "0010" })
        _ = try await store.migrate()
        let key = String(repeating: "b", count: 64)
        let hashes = try await store.pool.write { db -> [String] in
            try db.execute(sql: """
                INSERT INTO lists (slug, name, from_email, locale, created_at)
                VALUES ('news', 'お知らせ', 'news@example.org', 'ja', '2026-01-01T00:00:00.000Z')
                """)
            return [
                try Self.legacyAppend("list_created", listID: 1, detail: #"{"slug":"news"}"#, in: db),
                try Self.legacyAppend(
                    "requested", listID: 1, addressHash: key, consentVersion: "00112233aabbccdd",
                    detail: #"{"client_network":"192.0.2.0/24"}"#, source: "form:/lists/news/subscribe", in: db),
                try Self.legacyAppend("imported", listID: 1, addressHash: key, detail: #"{"consent_note":"店頭の申込書","status":"active"}"#, in: db),
                try Self.legacyAppend("outbox_paused", detail: #"{"reason":"メンテナンス"}"#, in: db),
            ]
        }

        let upgraded = try SQLiteStore(path: path, migrations: bundled.filter { $0.name < "0011" })
        #expect(try await upgraded.migrate() == ["0010_sealed_ledger.sql"])
        let chain = try await upgraded.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT position, event_id, hash FROM event_chain ORDER BY position")
                .map { ($0["position"] as Int64, $0["event_id"] as Int64, $0["hash"] as String) }
        }
        #expect(chain.map(\.0) == [1, 2, 3, 4])
        #expect(chain.map(\.1) == [1, 2, 3, 4])
        #expect(chain.map(\.2) == hashes)
        let columns = try await upgraded.pool.read { db in try db.columns(in: "events").map(\.name) }
        #expect(!columns.contains("hash") && !columns.contains("prev_hash"))

        // A new event, written by today's code (which reads today's schema), seals onto that head.
        let current = try SQLiteStore(path: path, migrations: bundled)
        _ = try await current.migrate()
        _ = try await current.archiveList(try ListSlug("news"), source: .cli)
        #expect(try await current.sealPending(as: "test", lease: .seconds(10)).sealedCount == 1)
        let result = try await current.verifyLedger(against: LedgerCheckpoint(count: 4, hash: hashes[3])) { _ in }
        #expect(result.isIntact)
        #expect(result.sealed == 5)
        let newest = try await current.pool.read { db in
            try String.fetchOne(db, sql: "SELECT prev_hash FROM event_chain WHERE position = 5")
        }
        #expect(newest == hashes[3])
    }

    @Test("0012 gives every token made before it the scope audience:read and every list the policy 3 in 15 days")
    func feedbackDefaults() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("listgate.sqlite3")
        let bundled = try Migration.bundled()
        let store = try SQLiteStore(path: path, migrations: bundled.filter { $0.name < "0012" })
        _ = try await store.migrate()
        try await store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO lists (slug, name, from_email, locale, created_at)
                VALUES ('news', 'お知らせ', 'news@example.org', 'ja', '2026-01-01T00:00:00.000Z')
                """)
            try db.execute(sql: """
                INSERT INTO api_tokens (public_id, list_id, name, token_sha256, created_at)
                VALUES ('0011token', 1, 'old', ?, '2026-01-01T00:00:00.000Z')
                """, arguments: [String(repeating: "c", count: 64)])
        }
        let upgraded = try SQLiteStore(path: path, migrations: bundled)
        #expect(try await upgraded.migrate().contains("0012_feedback.sql"))
        #expect(try await upgraded.senderTokens().map(\.scopes) == [[.audienceRead]])
        let list = try #require(try await upgraded.list(ListSlug("news")))
        #expect(list.softBounces == .standard)
        #expect(list.softBounces.limit == 3 && list.softBounces.days == 15)
    }

    @Test("the schema takes only known scopes, each once, separated by single spaces", arguments: [
        ("audience:read", true), ("feedback:write audience:read", true), ("audience:read feedback:write audience:approve", true),
        ("", false), ("audience:write", false), ("audience:read audience:read", false), ("audience:read  feedback:write", false),
        (" audience:read", false),
    ])
    func scopesColumn(_ scopes: String, _ accepted: Bool) async throws {
        let database = try await MigratedDatabase.make()
        _ = try await database.store.createList(try .sample("news"), source: .cli)
        let insert = {
            try await database.store.pool.write { db in
                try db.execute(sql: """
                    INSERT INTO api_tokens (public_id, list_id, scopes, token_sha256, created_at)
                    VALUES ('token0001', 1, ?, ?, '2026-01-01T00:00:00.000Z')
                    """, arguments: [scopes, String(repeating: "d", count: 64)])
            }
        }
        if accepted {
            try await insert()
        } else {
            await #expect(throws: DatabaseError.self) { try await insert() }
        }
    }

    @Test("generates the secret keys on the first run and keeps them afterwards")
    func generatesKeysOnce() async throws {
        let database = try await MigratedDatabase.make()
        let read = {
            try await database.store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT key, value FROM settings ORDER BY key").map {
                    "\($0["key"] as String)=\($0["value"] as String)"
                }
            }
        }
        let before = try await read()
        // secret_key, address_hash_key, webhook_secret_key
        #expect(before.count == 3)
        #expect(before.allSatisfy { $0.split(separator: "=")[1].count == 64 })
        _ = try await database.store.migrate()
        #expect(try await read() == before)
    }

    @Test("refuses to run when an applied migration's file has changed, and changes nothing")
    func refusesChangedMigration() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("db.sqlite3")
        let original = try migrations(["0001_settings.sql": first], in: directory)
        _ = try await SQLiteStore(path: path, migrations: original).migrate()

        let edited = [try Migration(name: "0001_settings.sql", sql: first + "\n-- edited")]
        let store = try SQLiteStore(path: path, migrations: edited + [try Migration(name: "0002_add_note.sql", sql: second)])
        await #expect(throws: StoreError.migrationChanged("0001_settings.sql")) { try await store.migrate() }
        await #expect(throws: StoreError.migrationChanged("0001_settings.sql")) { try await store.checkSchema() }
        let columns = try await store.pool.read { db in try db.columns(in: "settings").map(\.name) }
        #expect(!columns.contains("note"), "0002 must not be applied after the refusal")
    }

    @Test("refuses a database migrated by a newer version")
    func refusesUnknownMigrations() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("db.sqlite3")
        let newer = try migrations(["0001_settings.sql": first, "0002_add_note.sql": second], in: directory)
        _ = try await SQLiteStore(path: path, migrations: newer).migrate()

        let older = try SQLiteStore(path: path, migrations: [newer[0]])
        await #expect(throws: StoreError.unknownMigrations(["0002_add_note.sql"])) { try await older.migrate() }
        await #expect(throws: StoreError.unknownMigrations(["0002_add_note.sql"])) { try await older.checkSchema() }
    }

    @Test("a pending migration makes the schema check fail with 'needs migration'")
    func pendingNeedsMigration() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("db.sqlite3")
        let files = try migrations(["0001_settings.sql": first, "0002_add_note.sql": second], in: directory)
        _ = try await SQLiteStore(path: path, migrations: [files[0]]).migrate()
        let store = try SQLiteStore(path: path, migrations: files)
        await #expect(throws: StoreError.needsMigration) { try await store.checkSchema() }
    }

    @Test("opening a missing database for use fails with 'no database' and creates no file")
    func missingDatabase() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("absent.sqlite3")
        await #expect(throws: StoreError.noDatabase(path: path)) { try await SQLiteStore.openMigrated(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a failing migration is rolled back whole and not recorded")
    func failingMigrationRollsBack() async throws {
        let directory = try TemporaryDirectory()
        let broken = "CREATE TABLE half_done (x INTEGER);\nCREATE TABLE oops (;"
        let files = try migrations(["0001_settings.sql": first, "0002_broken.sql": broken], in: directory)
        let store = try SQLiteStore(path: directory.path("db.sqlite3"), migrations: files)
        await #expect(throws: StoreError.self) { try await store.migrate() }
        let state = try await store.pool.read { db in
            (try db.tableExists("half_done"), try String.fetchAll(db, sql: "SELECT name FROM schema_migrations"))
        }
        #expect(state.0 == false)
        #expect(state.1 == ["0001_settings.sql"])
    }

    @Test("migration file names must be NNNN_name.sql", arguments: ["1_init.sql", "0001-init.sql", "0001_Init.sql", "0001_.sql", "0001_init.txt"])
    func rejectsBadNames(_ name: String) {
        #expect(throws: StoreError.invalidMigrationName(name)) { try Migration(name: name, sql: "") }
    }
}

/// SHA-256 in hex via GRDB-free Foundation code path, so the checksum test does not
/// merely compare Migration.checksum with itself.
enum SHA256Hex {
    static func of(_ text: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try? process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }
}
