// Leaving on PostgreSQL (UnsubscribeStore, PreferencesStore): one subscription by its
// public id, one address on one list, or the lists a preferences link governs, as
// ListgateSQLite's SQLiteStore+Unsubscribe.swift.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: UnsubscribeStore {
    public func unsubscribePage(publicID: String) async throws -> TokenPage {
        try await read { connection -> TokenPage in
            guard let row = try await Self.subscriptionRow(publicID, on: connection) else { return .invalid }
            let slug = try row.get("slug", as: String.self), name = try row.get("list_name", as: String.self)
            let locale = ListLocale(rawValue: try row.get("locale", as: String.self)) ?? .ja
            return ["pending", "active"].contains(try row.get("status", as: String.self))
                ? .ready(listSlug: slug, listName: name, locale: locale)
                : .used(listSlug: slug, listName: name, locale: locale)
        }
    }

    // The mail closures are not escaping, and a transaction's body is (it may run in a
    // child task, under the store's deadline): `withoutActuallyEscaping` lends them for the
    // transaction, which ends before the call returns.
    public func unsubscribe(
        publicID: String, route: UnsubscribeRoute, origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> UnsubscribeOutcome {
        try await withoutActuallyEscaping(receipt) { receipt in
            return try await write { connection -> UnsubscribeOutcome in
                guard let row = try await Self.subscriptionRow(publicID, on: connection) else { return .invalid }
                let slug = try row.get("slug", as: String.self), name = try row.get("list_name", as: String.self)
                let locale = ListLocale(rawValue: try row.get("locale", as: String.self)) ?? .ja
                let listID = try row.get("list_id", as: Int64.self)
                let changed = try await Self.markUnsubscribed(
                    listID: listID, addressID: try row.get("address_id"), route: route, source: EventSource(origin.route),
                    at: date, on: connection)
                guard changed else { return .alreadyUnsubscribed(listSlug: slug, listName: name, locale: locale) }
                if let list = try await Self.fetchList(id: listID, on: connection),
                   // A row stored before the address grammar tightened (a quoted local part)
                   // still leaves; it just gets no receipt, which could not be sent anyway.
                   let address = try? EmailAddress(try row.get("email", as: String.self)),
                   let message = try receipt(list, address) {
                    try await Self.enqueue(message, at: date, on: connection)
                }
                return .unsubscribed(listSlug: slug, listName: name, locale: locale)
            }
        }
    }

    public func requestUnsubscribeLink(
        list: MailingList, address: EmailAddress, at date: Date, policy: IntakePolicy, formRequestID: Int64?,
        mail: @Sendable (_ subscriptionPublicID: String, _ addressHash: String) throws -> NewOutboxMessage
    ) async throws -> Bool {
        let mailbox = try await addressHasher().hash(identityKey: address.mailboxKey)
        return try await withoutActuallyEscaping(mail) { mail in
            return try await write { connection -> Bool in
                guard try await Self.consumeFormRequest(formRequestID, on: connection) else { return false }
                guard let row = try await connection.row("""
                    SELECT s.public_id, a.address_hash FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = \(list.id) AND a.identity_key = \(address.identityKey) AND s.status IN ('pending', 'active')
                    """)
                else { return false }
                let hash = try row.get("address_hash", as: String.self)
                if try await Self.mailLimitReached(mailboxHash: mailbox, listID: list.id, policy: policy, now: date, on: connection) {
                    return false
                }
                try await Self.enqueue(
                    try mail(try row.get("public_id", as: String.self), hash), at: date, addressHash: hash,
                    mailboxHash: mailbox, on: connection)
                return true
            }
        }
    }

    static func subscriptionRow(_ publicID: String, on connection: PostgresConnection) async throws -> PostgresRandomAccessRow? {
        try await connection.row("""
            SELECT s.id, s.list_id, s.address_id, s.status, a.email, l.slug, l.name AS list_name, l.locale
            FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
            WHERE s.public_id = \(publicID)
            """)
    }
}

// MARK: Preferences

extension PostgresStore: PreferencesStore {
    public func preferences(_ scope: PreferencesScope) async throws -> [PreferenceEntry] {
        try await read { connection in
            try await connection.rows(Self.inScope(scope, columns: "l.slug, l.name, l.locale, s.status")).map { row in
                PreferenceEntry(
                    listSlug: try row.get("slug"), listName: try row.get("name"), status: try row.get("status"),
                    locale: try Self.locale(try row.get("locale")))
            }
        }
    }

    public func leave(
        _ scope: PreferencesScope, listSlugs: [String], origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> [String] {
        try await withoutActuallyEscaping(receipt) { receipt in
            return try await write { connection -> [String] in
                // Only lists in the link's scope can be left, whatever slugs were posted.
                let inScope = try await connection.rows(
                    Self.inScope(scope, columns: "s.list_id, s.address_id, a.email, l.slug"))
                let wanted = Set(listSlugs)
                var left: [String] = []
                var firstLeft: (list: MailingList, email: String)?
                for row in inScope where wanted.contains(try row.get("slug", as: String.self)) {
                    guard let list = try await Self.fetchList(id: try row.get("list_id"), on: connection) else { continue }
                    if try await Self.markUnsubscribed(
                        listID: list.id, addressID: try row.get("address_id"), route: .preferences,
                        source: EventSource(origin.route), at: date, on: connection) {
                        left.append(list.slug.rawValue)
                        if firstLeft == nil { firstLeft = (list, try row.get("email", as: String.self)) }
                    }
                }
                // One receipt however many lists were left: one person, one message.
                if let (list, email) = firstLeft, let address = try? EmailAddress(email),
                   let message = try receipt(list, address) {
                    try await Self.enqueue(message, at: date, on: connection)
                }
                return left
            }
        }
    }

    /// The subscriptions a preferences link governs, by list slug (`s` subscriptions,
    /// `a` addresses, `l` lists). The columns are this file's own text, never input.
    private static func inScope(_ scope: PreferencesScope, columns: String) -> PostgresQuery {
        let from = "FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id"
        switch scope {
        case .subscription(let id):
            return "SELECT \(unescaped: columns) \(unescaped: from) WHERE s.public_id = \(id) ORDER BY l.slug COLLATE \"C\""
        case .address(let hash):
            return "SELECT \(unescaped: columns) \(unescaped: from) WHERE a.address_hash = \(hash) ORDER BY l.slug COLLATE \"C\""
        }
    }

    static func locale(_ text: String) throws -> ListLocale {
        guard let locale = ListLocale(rawValue: text) else {
            throw StoreError.unreadableValue(column: "lists.locale", "unknown list locale '\(text)'")
        }
        return locale
    }
}
