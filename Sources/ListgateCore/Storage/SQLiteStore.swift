// The SQLite implementation of ListgateStore: one database file in WAL mode, shared
// safely by the server and CLI commands running at the same time.
import Foundation
import GRDB

public struct SQLiteStore: ListgateStore {
    let pool: DatabasePool
    let migrations: [Migration]
    /// Subscribe requests share write transactions (see GroupCommit).
    let intakeCommits: GroupCommit

    /// Opens (creating if needed) the database at `path`. Use `openExisting` for
    /// commands that must not create a database as a side effect.
    public init(path: String, migrations: [Migration]? = nil) throws {
        var configuration = Configuration()
        // The server and CLI commands share one file: wait for a lock, don't fail.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Deleted personal data is overwritten, not just unlinked (`subscribers forget`).
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // In WAL mode, NORMAL makes every commit durable against a crash of the
            // process (kill -9 included) without an fsync per commit; only a power loss
            // or kernel crash can roll back the last commits. Stated here rather than
            // left to how the system's SQLite was compiled.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // A checkpoint runs inside the commit that crosses this many log pages, and
            // syncs the log and the database file while every other writer waits. Small
            // and frequent keeps each of those waits short: measured on a virtio disk at
            // ~800 subscribe posts/s after a burst (bench/forms.sh), p99 was 6 ms at 250
            // pages, 12 ms at SQLite's default 1,000 and 30 ms at 4,000, for 7% less
            // throughput under full load than at 1,000.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 250")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        intakeCommits = GroupCommit(pool: pool)
        self.migrations = try migrations ?? Migration.bundled()
    }

    /// Opens an existing, fully migrated database, or fails with `needsMigration`.
    public static func openMigrated(path: String, migrations: [Migration]? = nil) async throws -> SQLiteStore {
        // Never created by a command that only uses the database: `migrate` makes it.
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.noDatabase(path: path) }
        let store = try SQLiteStore(path: path, migrations: migrations)
        try await store.checkSchema()
        return store
    }

    public func isHealthy() async -> Bool {
        (try? await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    // MARK: Migrations

    /// Applies pending migrations in order, each in its own transaction, and makes sure
    /// the generated keys exist. Returns the names it applied (empty when up to date).
    public func migrate() async throws -> [String] {
        try await pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name       TEXT PRIMARY KEY NOT NULL,
                    checksum   TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                ) STRICT
                """)
        }
        _ = try await pendingMigrations()  // refuses unknown or changed migrations first
        var applied: [String] = []
        for migration in migrations {
            let didApply = try await pool.write { db -> Bool in
                // Re-checked inside the write lock: another `migrate` may have run meanwhile.
                let done = try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM schema_migrations WHERE name = ?", arguments: [migration.name]) ?? false
                if done { return false }
                do {
                    try db.execute(sql: migration.sql)
                } catch let error as DatabaseError {
                    throw StoreError.migrationFailed(name: migration.name, reason: error.message ?? "\(error)")
                }
                try db.execute(
                    sql: "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES (?, ?, ?)",
                    arguments: [migration.name, migration.checksum, Timestamp.string(Date())])
                return true
            }
            if didApply { applied.append(migration.name) }
        }
        try await pool.write { db in
            for key in GeneratedKey.allCases {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                    arguments: [key.rawValue, RandomToken.hex(bytes: 32), Timestamp.string(Date())])
            }
        }
        return applied
    }

    public func checkSchema() async throws {
        guard try await pendingMigrations().isEmpty else { throw StoreError.needsMigration }
    }

    /// Migrations of this build not yet applied; throws if the database knows
    /// migrations this build does not, or if an applied one has changed.
    func pendingMigrations() async throws -> [Migration] {
        let applied: [String: String] = try await pool.read { db in
            guard try db.tableExists("schema_migrations") else { return [:] }
            let rows = try Row.fetchAll(db, sql: "SELECT name, checksum FROM schema_migrations")
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["name"], $0["checksum"]) })
        }
        let known = Set(migrations.map(\.name))
        let unknown = applied.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else { throw StoreError.unknownMigrations(unknown) }
        for migration in migrations {
            if let checksum = applied[migration.name], checksum != migration.checksum {
                throw StoreError.migrationChanged(migration.name)
            }
        }
        return migrations.filter { applied[$0.name] == nil }
    }

    // MARK: Lists

    public func createList(_ new: NewList, source: EventSource) async throws -> MailingList {
        let now = Date()
        let id: Int64 = try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM lists WHERE slug = ?", arguments: [new.slug.rawValue]) == true {
                throw DomainError.duplicateSlug(new.slug)
            }
            try db.execute(
                sql: """
                    INSERT INTO lists (slug, name, from_name, from_email, reply_to, locale, created_at,
                                       thanks_url, confirmed_url, unsubscribed_url, privacy_url)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    new.slug.rawValue, new.name, new.from.displayName, new.from.address.entered,
                    new.replyTo?.entered, new.locale.rawValue, Timestamp.string(now),
                    new.sitePages.thanks?.text, new.sitePages.confirmed?.text, new.sitePages.unsubscribed?.text,
                    new.sitePages.privacy?.text,
                ])
            let id = db.lastInsertedRowID
            for origin in Set(new.allowedOrigins) {
                try db.execute(
                    sql: "INSERT INTO list_allowed_origins (list_id, origin) VALUES (?, ?)", arguments: [id, origin])
            }
            for address in Set(new.allowedAddresses) {
                try db.execute(
                    sql: "INSERT INTO list_allowed_addresses (list_id, email) VALUES (?, ?)",
                    arguments: [id, address.entered])
            }
            try EventLedger.append(
                NewEvent(.listCreated, listID: id, source: source, detail: ["slug": new.slug.rawValue]),
                at: now, in: db)
            return id
        }
        guard let list = try await pool.read({ db in try Self.fetchList(db, where: "id = ?", [id]) }) else {
            throw StoreError.migrationFailed(name: "lists", reason: "a created list could not be read back")
        }
        return list
    }

    /// Sets or clears (nil) some of a list's website pages; one `list_updated` event names
    /// each field that changed, with its value before and after. Returns the list as it is
    /// now and the fields that changed (none when every value was already so).
    public func updateSitePages(_ slug: ListSlug, _ changes: [SitePage: SitePageURL?], source: EventSource) async throws
        -> (list: MailingList, changed: [ListFieldChange])
    {
        let now = Date()
        let changed: [ListFieldChange] = try await pool.write { db in
            guard let list = try Self.fetchList(db, where: "slug = ?", [slug.rawValue]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            var changed: [ListFieldChange] = []
            for page in SitePage.allCases {
                guard let change = changes[page] else { continue }
                let before = list.sitePages[page]?.text
                let after = change?.text
                guard before != after else { continue }
                // The column name comes from SitePage, never from input.
                try db.execute(sql: "UPDATE lists SET \(page.field) = ? WHERE id = ?", arguments: [after, list.id])
                changed.append(ListFieldChange(field: page.field, before: before, after: after))
            }
            if !changed.isEmpty {
                var detail: [String: String] = [:]
                for change in changed {
                    detail["\(change.field).before"] = change.before ?? ""
                    detail["\(change.field).after"] = change.after ?? ""
                }
                try EventLedger.append(NewEvent(.listUpdated, listID: list.id, source: source, detail: detail), at: now, in: db)
            }
            return changed
        }
        guard let list = try await list(slug) else { throw DomainError.listNotFound(slug.rawValue) }
        return (list, changed)
    }

    public func allLists() async throws -> [MailingList] {
        try await pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM lists ORDER BY slug").compactMap { id in
                try Self.fetchList(db, where: "id = ?", [id])
            }
        }
    }

    public func list(_ slug: ListSlug) async throws -> MailingList? {
        try await pool.read { db in try Self.fetchList(db, where: "slug = ?", [slug.rawValue]) }
    }

    public func list(id: Int64) async throws -> MailingList? {
        try await pool.read { db in try Self.fetchList(db, where: "id = ?", [id]) }
    }

    public func memberCounts(listID: Int64) async throws -> MemberCounts {
        try await pool.read { db in
            var counts = MemberCounts()
            let rows = try Row.fetchAll(
                db, sql: "SELECT status, count(*) AS n FROM subscriptions WHERE list_id = ? GROUP BY status",
                arguments: [listID])
            for row in rows {
                let n: Int = row["n"]
                switch row["status"] as String {
                case "pending": counts.pending = n
                case "active": counts.active = n
                case "unsubscribed": counts.unsubscribed = n
                case "bounced": counts.bounced = n
                case "complained": counts.complained = n
                default: break
                }
            }
            return counts
        }
    }

    static func fetchList(_ db: Database, where condition: String, _ arguments: StatementArguments) throws
        -> MailingList?
    {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM lists WHERE \(condition)", arguments: arguments) else {
            return nil
        }
        let id: Int64 = row["id"]
        let allowed = try String.fetchAll(
            db, sql: "SELECT email FROM list_allowed_addresses WHERE list_id = ? ORDER BY email", arguments: [id])
        let origins = try String.fetchAll(
            db, sql: "SELECT origin FROM list_allowed_origins WHERE list_id = ? ORDER BY origin", arguments: [id])
        // Stored values were validated on the way in; a failure here means the file was
        // edited by hand, which deserves a loud error rather than a guess.
        let fromEmail: String = row["from_email"]
        let fromName: String? = row["from_name"]
        var pages = SitePages()
        for page in SitePage.allCases {
            pages[page] = try (row[page.field] as String?).map { try SitePageURL($0) }
        }
        return MailingList(
            id: id,
            slug: try ListSlug(row["slug"]),
            name: row["name"],
            from: try Mailbox(displayName: fromName, address: EmailAddress(fromEmail)),
            replyTo: try (row["reply_to"] as String?).map { try EmailAddress($0) },
            locale: ListLocale(rawValue: row["locale"]) ?? .ja,
            allowedAddresses: try allowed.map { try EmailAddress($0) },
            allowedOrigins: origins,
            sitePages: pages,
            createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0))
    }
}

/// Keys generated by the first `listgate migrate` and kept in `settings`.
enum GeneratedKey: String, CaseIterable {
    /// Signs confirmation and unsubscribe tokens (overridden by LISTGATE_SECRET_KEY).
    case secretKey = "secret_key"
    /// Keys the address hashes that events and suppressions use. Never rotated: a
    /// suppression must keep matching the same person.
    case addressHashKey = "address_hash_key"
}
