// The SQLite implementation of ListgateStore: one database file in WAL mode, shared
// safely by the server and CLI commands running at the same time.
import Foundation
import GRDB
import ListgateCore

public struct SQLiteStore: ListgateStore {
    let pool: DatabasePool
    let migrations: [Migration]
    /// Subscribe requests share write transactions (see GroupCommit).
    let intakeCommits: GroupCommit
    let addressKey = AddressHasher.Cache()

    /// Opens (creating if needed) the database at `path`. Use `openExisting` for
    /// commands that must not create a database as a side effect.
    /// `checkpoints`: `.inBackground` for `listgate serve`, which then runs a
    /// `LogCheckpointer` (LogCheckpoints.swift).
    public init(path: String, migrations: [Migration]? = nil, checkpoints: LogCheckpoints = .inCommits) throws {
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
            // In commits, a checkpoint runs inside the one that crosses this many log
            // pages, and syncs the log and the database file while every other writer
            // waits. Small and frequent keeps each of those waits short: measured on a
            // virtio disk at ~800 subscribe posts/s after a burst (bench/forms.sh), p99
            // was 6 ms at 250 pages, 12 ms at SQLite's default 1,000 and 30 ms at 4,000.
            // `serve` takes the checkpoints off its writer altogether (LogCheckpoints).
            try db.execute(sql: checkpoints == .inCommits ? "PRAGMA wal_autocheckpoint = 250" : "PRAGMA wal_autocheckpoint = 0")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        intakeCommits = GroupCommit(pool: pool)
        self.migrations = try migrations ?? Migration.bundled()
    }

    /// Opens an existing, fully migrated database, or fails with `needsMigration`.
    public static func openMigrated(
        path: String, migrations: [Migration]? = nil, checkpoints: LogCheckpoints = .inCommits
    ) async throws -> SQLiteStore {
        // Never created by a command that only uses the database: `migrate` makes it.
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.noDatabase(path: path) }
        let store = try SQLiteStore(path: path, migrations: migrations, checkpoints: checkpoints)
        try await store.checkSchema()
        return store
    }

    /// Hashes addresses outside any transaction, so the writer does not.
    func addressHasher() async throws -> AddressHasher.Keyed {
        try await addressKey.keyed { try await pool.read { db in try AddressHasher.key(in: db) } }
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
                                       thanks_url, confirmed_url, unsubscribed_url, privacy_url,
                                       legal_name, postal_address, contact)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    new.slug.rawValue, new.name, new.from.displayName, new.from.address.entered,
                    new.replyTo?.entered, new.locale.rawValue, Timestamp.string(now),
                    new.sitePages.thanks?.text, new.sitePages.confirmed?.text, new.sitePages.unsubscribed?.text,
                    new.sitePages.privacy?.text, new.senderIdentity.legalName, new.senderIdentity.postalAddress,
                    new.senderIdentity.contact?.text,
                ])
            let id = db.lastInsertedRowID
            try Self.insertAllowedOrigins(new.allowedOrigins, listID: id, in: db)
            try Self.insertAllowedAddresses(new.allowedAddresses, listID: id, in: db)
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

    /// Applies an admin's change to a list. One `list_updated` event names each field that
    /// changed, with its value before and after; a change to what is already so changes
    /// and records nothing. Returns the list as it is now and the fields that changed.
    public func updateList(_ slug: ListSlug, _ change: ListChange, source: EventSource) async throws
        -> (list: MailingList, changed: [ListFieldChange])
    {
        let now = Date()
        return try await pool.write { db -> (list: MailingList, changed: [ListFieldChange]) in
            guard let list = try Self.fetchList(db, where: "slug = ?", [slug.rawValue]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            let updated = change.applied(to: list)
            let changed = list.changes(to: updated)
            guard !changed.isEmpty else { return (list, []) }
            // Every column at once: simpler than one statement per field, and a column
            // name never has to be put together from anything.
            try db.execute(
                sql: """
                    UPDATE lists SET name = ?, from_name = ?, from_email = ?, reply_to = ?, locale = ?,
                        thanks_url = ?, confirmed_url = ?, unsubscribed_url = ?, privacy_url = ?,
                        legal_name = ?, postal_address = ?, contact = ?, soft_bounce_limit = ?, soft_bounce_days = ?,
                        snapshot_approvals = ?
                    WHERE id = ?
                    """,
                arguments: [
                    updated.name, updated.from.displayName, updated.from.address.entered, updated.replyTo?.entered,
                    updated.locale.rawValue, updated.sitePages.thanks?.text, updated.sitePages.confirmed?.text,
                    updated.sitePages.unsubscribed?.text, updated.sitePages.privacy?.text,
                    updated.senderIdentity.legalName, updated.senderIdentity.postalAddress,
                    updated.senderIdentity.contact?.text, updated.softBounces.limit, updated.softBounces.days,
                    updated.snapshotApprovals, list.id,
                ])
            if updated.allowedAddresses.map(\.entered) != list.allowedAddresses.map(\.entered) {
                try db.execute(sql: "DELETE FROM list_allowed_addresses WHERE list_id = ?", arguments: [list.id])
                try Self.insertAllowedAddresses(updated.allowedAddresses, listID: list.id, in: db)
            }
            if updated.allowedOrigins != list.allowedOrigins {
                try db.execute(sql: "DELETE FROM list_allowed_origins WHERE list_id = ?", arguments: [list.id])
                try Self.insertAllowedOrigins(updated.allowedOrigins, listID: list.id, in: db)
            }
            try EventLedger.append(
                NewEvent(.listUpdated, listID: list.id, source: source, detail: changed.eventDetail), at: now, in: db)
            guard let stored = try Self.fetchList(db, where: "id = ?", [list.id]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            return (stored, changed)
        }
    }

    /// Closes a list for good: it takes no more subscriptions or snapshots, while its
    /// members can still leave. Nothing is deleted. A `list_archived` event records it.
    public func archiveList(_ slug: ListSlug, source: EventSource) async throws -> MailingList {
        let now = Date()
        return try await pool.write { db -> MailingList in
            guard let list = try Self.fetchList(db, where: "slug = ?", [slug.rawValue]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            guard !list.isArchived else { throw DomainError.listArchived(slug.rawValue) }
            try db.execute(
                sql: "UPDATE lists SET archived_at = ? WHERE id = ?", arguments: [Timestamp.string(now), list.id])
            try EventLedger.append(
                NewEvent(.listArchived, listID: list.id, source: source, detail: ["slug": slug.rawValue]), at: now, in: db)
            // Confirmation mail not yet sent would only lead to a 410: it is discarded with
            // the list, each message with its event, as an operator's discard is.
            let waiting = try Row.fetchAll(db, sql: """
                SELECT id, address_hash, status FROM outbox
                WHERE list_id = ? AND kind = 'confirmation' AND status IN ('queued', 'failed', 'quarantined')
                """, arguments: [list.id])
            for message in waiting {
                let id: Int64 = message["id"]
                try db.execute(sql: """
                    UPDATE outbox SET status = 'discarded', updated_at = ?, quarantine_reason = NULL, last_error = 'the list was archived'
                    WHERE id = ?
                    """, arguments: [Timestamp.string(now), id])
                try EventLedger.append(
                    NewEvent(.messageDiscarded, listID: list.id, addressHash: message["address_hash"], source: source,
                             detail: ["outbox_id": String(id), "from_status": message["status"], "reason": "list archived"]),
                    at: now, in: db)
            }
            guard let stored = try Self.fetchList(db, where: "id = ?", [list.id]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            return stored
        }
    }

    static func insertAllowedAddresses(_ addresses: [EmailAddress], listID: Int64, in db: Database) throws {
        for address in Set(addresses) {
            try db.execute(
                sql: "INSERT INTO list_allowed_addresses (list_id, email) VALUES (?, ?)", arguments: [listID, address.entered])
        }
    }

    static func insertAllowedOrigins(_ origins: [String], listID: Int64, in db: Database) throws {
        for origin in Set(origins) {
            try db.execute(sql: "INSERT INTO list_allowed_origins (list_id, origin) VALUES (?, ?)", arguments: [listID, origin])
        }
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
        let identity = SenderIdentity(
            legalName: row["legal_name"], postalAddress: row["postal_address"],
            contact: try (row["contact"] as String?).map { try SenderContact($0) })
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
            senderIdentity: identity,
            createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
            archivedAt: try (row["archived_at"] as String?).map { text in
                guard let date = Timestamp.parse(text) else { throw StoreError.unreadableValue(column: "lists.archived_at", text) }
                return date
            },
            // The schema's CHECKs hold these to SoftBouncePolicy's ranges.
            softBounces: SoftBouncePolicy(checkedLimit: row["soft_bounce_limit"], days: row["soft_bounce_days"]),
            snapshotApprovals: row["snapshot_approvals"])
    }
}
