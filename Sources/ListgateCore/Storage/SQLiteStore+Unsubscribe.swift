// Unsubscribe queries: one subscription by its public id, or one address on one list.
import Foundation
import GRDB

extension SQLiteStore {
    public func unsubscribePage(publicID: String) async throws -> TokenPage {
        try await pool.read { db in
            guard let row = try Self.subscriptionRow(publicID, in: db) else { return .invalid }
            let slug: String = row["slug"], name: String = row["list_name"]
            let locale = ListLocale(rawValue: row["locale"]) ?? .ja
            return ["pending", "active"].contains(row["status"] as String)
                ? .ready(listSlug: slug, listName: name, locale: locale)
                : .used(listSlug: slug, listName: name, locale: locale)
        }
    }

    public func unsubscribe(
        publicID: String, route: UnsubscribeRoute, origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> UnsubscribeOutcome {
        try await pool.write { db in
            guard let row = try Self.subscriptionRow(publicID, in: db) else { return .invalid }
            let slug: String = row["slug"], name: String = row["list_name"]
            let locale = ListLocale(rawValue: row["locale"]) ?? .ja
            let listID: Int64 = row["list_id"]
            let changed = try Self.markUnsubscribed(
                listID: listID, addressID: row["address_id"], route: route, source: EventSource(origin.route), at: date, in: db)
            guard changed else { return .alreadyUnsubscribed(listSlug: slug, listName: name, locale: locale) }
            if let list = try Self.fetchList(db, where: "id = ?", [listID]),
               let message = try receipt(list, try EmailAddress(row["email"])) {
                _ = try Self.enqueue(message, at: date, in: db)
            }
            return .unsubscribed(listSlug: slug, listName: name, locale: locale)
        }
    }

    public func requestUnsubscribeLink(
        list: MailingList, address: EmailAddress, at date: Date, policy: IntakePolicy,
        mail: @Sendable (_ subscriptionPublicID: String) throws -> NewOutboxMessage
    ) async throws -> Bool {
        try await pool.write { db in
            guard let publicID = try String.fetchOne(
                db.cachedStatement(sql: """
                    SELECT s.public_id FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = ? AND a.identity_key = ? AND s.status IN ('pending', 'active')
                    """),
                arguments: [list.id, address.identityKey])
            else { return false }
            if let limit = policy.mailsPerAddressPerDay {
                let hash = try AddressHasher.hash(address, in: db)
                let mailed = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM outbox WHERE list_id = ? AND address_hash = ? AND created_at > ?"),
                    arguments: [list.id, hash, Timestamp.string(date.addingTimeInterval(-86_400))]) ?? 0
                if mailed >= limit { return false }
            }
            _ = try Self.enqueue(try mail(publicID), at: date, in: db)
            return true
        }
    }

    static func subscriptionRow(_ publicID: String, in db: Database) throws -> Row? {
        try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT s.id, s.list_id, s.address_id, s.status, a.email, l.slug, l.name AS list_name, l.locale
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                WHERE s.public_id = ?
                """),
            arguments: [publicID])
    }
}

// MARK: Preferences

extension SQLiteStore {
    public func preferences(addressHash: String) async throws -> [PreferenceEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT l.slug, l.name, l.locale, s.status
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                    WHERE a.address_hash = ? ORDER BY l.slug
                    """),
                arguments: [addressHash]
            ).map {
                PreferenceEntry(listSlug: $0["slug"], listName: $0["name"], status: $0["status"],
                                locale: ListLocale(rawValue: $0["locale"]) ?? .ja)
            }
        }
    }

    public func leave(
        addressHash: String, listSlugs: [String], origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> [String] {
        try await pool.write { db in
            guard let address = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, email FROM addresses WHERE address_hash = ?"), arguments: [addressHash])
            else { return [] }
            var left: [String] = []
            var firstList: MailingList?
            for slug in Set(listSlugs).sorted() {
                guard let list = try Self.fetchList(db, where: "slug = ?", [slug]) else { continue }
                if try Self.markUnsubscribed(
                    listID: list.id, addressID: address["id"], route: .preferences, source: EventSource(origin.route),
                    at: date, in: db) {
                    left.append(slug)
                    firstList = firstList ?? list
                }
            }
            // One receipt however many lists were left: one person, one message.
            if let list = firstList, let message = try receipt(list, try EmailAddress(address["email"])) {
                _ = try Self.enqueue(message, at: date, in: db)
            }
            return left
        }
    }

    public func addressHash(subscriptionPublicID: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(
                db.cachedStatement(sql: """
                    SELECT a.address_hash FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE s.public_id = ?
                    """),
                arguments: [subscriptionPublicID])
        }
    }
}
