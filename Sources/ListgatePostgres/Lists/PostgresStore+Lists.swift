// Lists on PostgreSQL (ListStore): the same operations, events and answers as
// ListgateSQLite's SQLiteStore (Database/SQLiteStore.swift), in PostgreSQL's SQL.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: ListStore {
    public func createList(_ new: NewList, source: EventSource) async throws -> MailingList {
        let now = Date()
        return try await write { connection in
            if try await connection.value("SELECT 1::bigint FROM lists WHERE slug = \(new.slug.rawValue)", as: Int64.self) != nil {
                throw DomainError.duplicateSlug(new.slug)
            }
            guard let id = try await connection.value("""
                INSERT INTO lists (slug, name, from_name, from_email, reply_to, locale, created_at,
                                   thanks_url, confirmed_url, unsubscribed_url, privacy_url,
                                   legal_name, postal_address, contact)
                VALUES (\(new.slug.rawValue), \(new.name), \(new.from.displayName), \(new.from.address.entered),
                        \(new.replyTo?.entered), \(new.locale.rawValue), \(now.stored),
                        \(new.sitePages.thanks?.text), \(new.sitePages.confirmed?.text), \(new.sitePages.unsubscribed?.text),
                        \(new.sitePages.privacy?.text), \(new.senderIdentity.legalName), \(new.senderIdentity.postalAddress),
                        \(new.senderIdentity.contact?.text))
                RETURNING id
                """, as: Int64.self)
            else { throw StoreError.unreadableValue(column: "lists.id", "a created list returned no id") }
            try await Self.insertAllowedOrigins(new.allowedOrigins, listID: id, on: connection)
            try await Self.insertAllowedAddresses(new.allowedAddresses, listID: id, on: connection)
            try await PostgresLedger.append(
                NewEvent(.listCreated, listID: id, source: source, detail: ["slug": new.slug.rawValue]), at: now, on: connection)
            guard let list = try await Self.fetchList(id: id, on: connection) else {
                throw StoreError.migrationFailed(name: "lists", reason: "a created list could not be read back")
            }
            return list
        }
    }

    public func updateList(_ slug: ListSlug, _ change: ListChange, source: EventSource) async throws
        -> (list: MailingList, changed: [ListFieldChange])
    {
        let now = Date()
        return try await write { connection -> (list: MailingList, changed: [ListFieldChange]) in
            guard let list = try await Self.fetchList(slug: slug, on: connection) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            let updated = change.applied(to: list)
            let changed = list.changes(to: updated)
            guard !changed.isEmpty else { return (list, []) }
            try await connection.execute("""
                UPDATE lists SET name = \(updated.name), from_name = \(updated.from.displayName),
                    from_email = \(updated.from.address.entered), reply_to = \(updated.replyTo?.entered),
                    locale = \(updated.locale.rawValue), thanks_url = \(updated.sitePages.thanks?.text),
                    confirmed_url = \(updated.sitePages.confirmed?.text), unsubscribed_url = \(updated.sitePages.unsubscribed?.text),
                    privacy_url = \(updated.sitePages.privacy?.text), legal_name = \(updated.senderIdentity.legalName),
                    postal_address = \(updated.senderIdentity.postalAddress), contact = \(updated.senderIdentity.contact?.text),
                    soft_bounce_limit = \(updated.softBounces.limit), soft_bounce_days = \(updated.softBounces.days),
                    snapshot_approvals = \(updated.snapshotApprovals)
                WHERE id = \(list.id)
                """)
            if updated.allowedAddresses.map(\.entered) != list.allowedAddresses.map(\.entered) {
                try await connection.execute("DELETE FROM list_allowed_addresses WHERE list_id = \(list.id)")
                try await Self.insertAllowedAddresses(updated.allowedAddresses, listID: list.id, on: connection)
            }
            if updated.allowedOrigins != list.allowedOrigins {
                try await connection.execute("DELETE FROM list_allowed_origins WHERE list_id = \(list.id)")
                try await Self.insertAllowedOrigins(updated.allowedOrigins, listID: list.id, on: connection)
            }
            try await PostgresLedger.append(
                NewEvent(.listUpdated, listID: list.id, source: source, detail: changed.eventDetail), at: now, on: connection)
            guard let stored = try await Self.fetchList(id: list.id, on: connection) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            return (stored, changed)
        }
    }

    public func archiveList(_ slug: ListSlug, source: EventSource) async throws -> MailingList {
        let now = Date()
        return try await write { connection in
            guard let list = try await Self.fetchList(slug: slug, on: connection) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            guard !list.isArchived else { throw DomainError.listArchived(slug.rawValue) }
            try await connection.execute("UPDATE lists SET archived_at = \(now.stored) WHERE id = \(list.id)")
            try await PostgresLedger.append(
                NewEvent(.listArchived, listID: list.id, source: source, detail: ["slug": slug.rawValue]), at: now, on: connection)
            // Confirmation mail not yet sent would only lead to a 410: it is discarded with
            // the list, each message with its event, as an operator's discard is.
            let waiting = try await connection.rows("""
                SELECT id, address_hash, status FROM outbox
                WHERE list_id = \(list.id) AND kind = 'confirmation' AND status IN ('queued', 'failed', 'quarantined')
                """)
            for message in waiting {
                let id = try message.get("id", as: Int64.self)
                try await connection.execute("""
                    UPDATE outbox SET status = 'discarded', updated_at = \(now.stored), quarantine_reason = NULL,
                        last_error = 'the list was archived'
                    WHERE id = \(id)
                    """)
                try await PostgresLedger.append(
                    NewEvent(.messageDiscarded, listID: list.id, addressHash: try message.get("address_hash", as: String?.self),
                             source: source,
                             detail: ["outbox_id": String(id), "from_status": try message.get("status", as: String.self),
                                      "reason": "list archived"]),
                    at: now, on: connection)
            }
            guard let stored = try await Self.fetchList(id: list.id, on: connection) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            return stored
        }
    }

    static func insertAllowedAddresses(_ addresses: [EmailAddress], listID: Int64, on connection: PostgresConnection) async throws {
        for address in Set(addresses) {
            try await connection.execute(
                "INSERT INTO list_allowed_addresses (list_id, email) VALUES (\(listID), \(address.entered))")
        }
    }

    static func insertAllowedOrigins(_ origins: [String], listID: Int64, on connection: PostgresConnection) async throws {
        for origin in Set(origins) {
            try await connection.execute("INSERT INTO list_allowed_origins (list_id, origin) VALUES (\(listID), \(origin))")
        }
    }

    public func allLists() async throws -> [MailingList] {
        try await read { connection in
            var lists: [MailingList] = []
            for row in try await connection.rows("SELECT id FROM lists ORDER BY slug") {
                if let list = try await Self.fetchList(id: try row.get("id", as: Int64.self), on: connection) {
                    lists.append(list)
                }
            }
            return lists
        }
    }

    public func list(_ slug: ListSlug) async throws -> MailingList? {
        try await read { connection in try await Self.fetchList(slug: slug, on: connection) }
    }

    public func list(id: Int64) async throws -> MailingList? {
        try await read { connection in try await Self.fetchList(id: id, on: connection) }
    }

    public func memberCounts(listID: Int64) async throws -> MemberCounts {
        try await read { connection in
            var counts = MemberCounts()
            for row in try await connection.rows(
                "SELECT status, count(*) AS n FROM subscriptions WHERE list_id = \(listID) GROUP BY status")
            {
                let n = Int(try row.get("n", as: Int64.self))
                switch try row.get("status", as: String.self) {
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

    static func fetchList(slug: ListSlug, on connection: PostgresConnection) async throws -> MailingList? {
        guard let row = try await connection.row("SELECT * FROM lists WHERE slug = \(slug.rawValue)") else { return nil }
        return try await list(from: row, on: connection)
    }

    static func fetchList(id: Int64, on connection: PostgresConnection) async throws -> MailingList? {
        guard let row = try await connection.row("SELECT * FROM lists WHERE id = \(id)") else { return nil }
        return try await list(from: row, on: connection)
    }

    private static func list(from row: PostgresRandomAccessRow, on connection: PostgresConnection) async throws -> MailingList {
        let id = try row.get("id", as: Int64.self)
        let allowed = try await connection.rows(
            "SELECT email FROM list_allowed_addresses WHERE list_id = \(id) ORDER BY email COLLATE \"C\"")
            .map { try $0.get("email", as: String.self) }
        let origins = try await connection.rows(
            "SELECT origin FROM list_allowed_origins WHERE list_id = \(id) ORDER BY origin COLLATE \"C\"")
            .map { try $0.get("origin", as: String.self) }
        // Stored values were validated on the way in; a failure here means the database was
        // edited by hand, which deserves a loud error rather than a guess.
        var pages = SitePages()
        for page in SitePage.allCases {
            pages[page] = try (try row.get(page.field, as: String?.self)).map { try SitePageURL($0) }
        }
        let identity = SenderIdentity(
            legalName: try row.get("legal_name"), postalAddress: try row.get("postal_address"),
            contact: try (try row.get("contact", as: String?.self)).map { try SenderContact($0) })
        let locale = try row.get("locale", as: String.self)
        return MailingList(
            id: id,
            slug: try ListSlug(try row.get("slug")),
            name: try row.get("name"),
            from: try Mailbox(displayName: try row.get("from_name"), address: EmailAddress(try row.get("from_email", as: String.self))),
            replyTo: try (try row.get("reply_to", as: String?.self)).map { try EmailAddress($0) },
            locale: ListLocale(rawValue: locale) ?? .ja,
            allowedAddresses: try allowed.map { try EmailAddress($0) },
            allowedOrigins: origins,
            sitePages: pages,
            senderIdentity: identity,
            createdAt: try row.get("created_at"),
            archivedAt: try row.get("archived_at"),
            softBounces: SoftBouncePolicy(
                checkedLimit: Int(try row.get("soft_bounce_limit", as: Int64.self)),
                days: Int(try row.get("soft_bounce_days", as: Int64.self))),
            snapshotApprovals: Int(try row.get("snapshot_approvals", as: Int64.self)))
    }
}
