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
            "snapshot_members", "snapshots", "submissions", "subscriptions", "suppressions",
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

    @Test("0006 moves the ledger to its new table with every row and hash intact: the chain still verifies")
    func eventVocabularyKeepsTheChain() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("listgate.sqlite3")
        let bundled = try Migration.bundled()
        let store = try SQLiteStore(path: path, migrations: bundled.filter { $0.name < "0006" })
        _ = try await store.migrate()
        try await store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO lists (slug, name, from_email, locale, created_at)
                VALUES ('news', 'News', 'news@example.org', 'en', '2026-01-01T00:00:00.000Z')
                """)
            for _ in 0..<5 {
                try EventLedger.append(NewEvent(.listUpdated, listID: 1, source: .cli, detail: ["name.after": "News"]), at: Date(), in: db)
            }
        }
        let before = try await store.verifyLedger { _ in }
        #expect(before.eventCount == 5)

        let upgraded = try SQLiteStore(path: path, migrations: bundled)
        #expect(try await upgraded.migrate().contains("0006_event_vocabulary.sql"))
        let after = try await upgraded.verifyLedger { _ in }
        #expect(after == before, "same events, same last hash, no break, triggers in place")
        #expect(after.appendOnlyTriggersPresent)
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
        #expect(before.count == 2)
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
