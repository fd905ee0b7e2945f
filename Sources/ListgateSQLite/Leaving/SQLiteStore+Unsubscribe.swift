// Unsubscribe queries: one subscription by its public id, or one address on one list.
import Foundation
import GRDB
import ListgateCore

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
               // A row stored before the address grammar tightened (a quoted local part)
               // still leaves; it just gets no receipt, which could not be sent anyway.
               let address = try? EmailAddress(row["email"]),
               let message = try receipt(list, address) {
                _ = try Self.enqueue(message, at: date, in: db)
            }
            return .unsubscribed(listSlug: slug, listName: name, locale: locale)
        }
    }

    public func requestUnsubscribeLink(
        list: MailingList, address: EmailAddress, at date: Date, policy: IntakePolicy, formRequestID: Int64?,
        mail: @Sendable (_ subscriptionPublicID: String, _ addressHash: String) throws -> NewOutboxMessage
    ) async throws -> Bool {
        try await pool.write { db in
            guard try Self.consumeFormRequest(formRequestID, in: db) else { return false }
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT s.public_id, a.address_hash FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = ? AND a.identity_key = ? AND s.status IN ('pending', 'active')
                    """),
                arguments: [list.id, address.identityKey])
            else { return false }
            let hash: String = row["address_hash"]
            let mailbox = try AddressHasher.mailboxHash(identityKey: address.identityKey, in: db)
            if try Self.mailLimitReached(mailboxHash: mailbox, listID: list.id, policy: policy, now: date, in: db) {
                return false
            }
            _ = try Self.enqueue(try mail(row["public_id"], hash), at: date, addressHash: hash, mailboxHash: mailbox, in: db)
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
    public func preferences(_ scope: PreferencesScope) async throws -> [PreferenceEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT l.slug, l.name, l.locale, s.status
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                    WHERE \(Self.scopeCondition(scope)) ORDER BY l.slug
                    """),
                arguments: [Self.scopeArgument(scope)]
            ).map {
                PreferenceEntry(listSlug: $0["slug"], listName: $0["name"], status: $0["status"],
                                locale: try Self.locale($0["locale"]))
            }
        }
    }

    public func leave(
        _ scope: PreferencesScope, listSlugs: [String], origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> [String] {
        try await pool.write { db in
            // Only lists in the link's scope can be left, whatever slugs were posted.
            let inScope = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT s.list_id, s.address_id, a.email, l.slug
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                    WHERE \(Self.scopeCondition(scope)) ORDER BY l.slug
                    """),
                arguments: [Self.scopeArgument(scope)])
            let wanted = Set(listSlugs)
            var left: [String] = []
            var firstLeft: (list: MailingList, email: String)?
            for row in inScope where wanted.contains(row["slug"]) {
                guard let list = try Self.fetchList(db, where: "id = ?", [row["list_id"] as Int64]) else { continue }
                if try Self.markUnsubscribed(
                    listID: list.id, addressID: row["address_id"], route: .preferences, source: EventSource(origin.route),
                    at: date, in: db) {
                    left.append(list.slug.rawValue)
                    firstLeft = firstLeft ?? (list, row["email"])
                }
            }
            // One receipt however many lists were left: one person, one message.
            if let (list, email) = firstLeft, let address = try? EmailAddress(email), let message = try receipt(list, address) {
                _ = try Self.enqueue(message, at: date, in: db)
            }
            return left
        }
    }

    /// The subscriptions a preferences link governs (`s` subscriptions, `a` addresses).
    private static func scopeCondition(_ scope: PreferencesScope) -> String {
        switch scope {
        case .subscription: "s.public_id = ?"
        case .address: "a.address_hash = ?"
        }
    }

    private static func scopeArgument(_ scope: PreferencesScope) -> String {
        switch scope {
        case .subscription(let id): id
        case .address(let hash): hash
        }
    }

    static func locale(_ text: String) throws -> ListLocale {
        guard let locale = ListLocale(rawValue: text) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown list locale '\(text)'")
        }
        return locale
    }
}
