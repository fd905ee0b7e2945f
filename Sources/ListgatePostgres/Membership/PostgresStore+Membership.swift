// Admin membership on PostgreSQL (MembershipStore: `listgate subscribers`, `listgate
// suppressions`), as ListgateSQLite's SQLiteStore+Membership.swift. Each public method is
// one SERIALIZABLE transaction: a refusal is thrown inside it, so it rolls back and
// nothing changes. None of them can queue mail.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: MembershipStore {
    public func addSubscriber(_ subscriber: NewSubscriber, source: EventSource, at date: Date) async throws
        -> AddSubscriberOutcome
    {
        let address = subscriber.address
        let hashes = try await addressHasher().hashes(identityKey: address.identityKey)
        let hash = hashes[0]
        return try await write { connection -> AddSubscriberOutcome in
            let listID = try await Self.requireOpenListID(subscriber.list, on: connection)
            // Suppression always wins, whatever its reason: an admin never brings back
            // someone who left, blocked, bounced, complained or was forgotten.
            if let (scope, reason) = try await Self.suppression(hashes, listID: listID, on: connection) {
                throw MembershipError.suppressed(
                    address: address.entered, list: scope == nil ? nil : subscriber.list.rawValue, reason: reason)
            }
            let stamp = date.stored
            let status = subscriber.confirmed ? SubscriptionStatus.active : .pending
            if let existing = try await Self.membership(address, listID: listID, on: connection) {
                if existing.status.hasLeft {
                    throw MembershipError.cannotReactivate(
                        address: address.entered, list: subscriber.list.rawValue, status: existing.status)
                }
                guard existing.status == .pending, subscriber.confirmed else { return .unchanged(existing.status) }
                try await connection.execute("""
                    UPDATE subscriptions SET status = 'active', source = 'admin', name = coalesce(\(subscriber.name), name),
                        updated_at = \(stamp), subscribed_at = \(stamp)
                    WHERE id = \(existing.id) AND status = 'pending'
                    """)
                try await PostgresLedger.append(
                    NewEvent(.subscriberAdded, listID: listID, addressHash: hash, source: source,
                             detail: ["status": SubscriptionStatus.active.rawValue]),
                    at: date, on: connection)
                return .activated
            }
            let addressID = try await Self.upsertAddress(
                email: address.entered, identityKey: address.identityKey, hash: hash, at: date, on: connection)
            try await connection.execute("""
                INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
                VALUES (\(listID), \(addressID), \(subscriber.name), \(status.rawValue), 'admin', \(stamp), \(stamp),
                        \(status == .active ? stamp : nil))
                """)
            try await PostgresLedger.append(
                NewEvent(.subscriberAdded, listID: listID, addressHash: hash, source: source,
                         detail: ["status": status.rawValue]),
                at: date, on: connection)
            return .added(status)
        }
    }

    public func removeSubscriber(_ address: EmailAddress, from list: ListSlug, source: EventSource, at date: Date)
        async throws -> SubscriptionStatus
    {
        try await write { connection -> SubscriptionStatus in
            let listID = try await Self.requireListID(list, on: connection)
            let existing = try await Self.membership(address, listID: listID, on: connection)
            guard let existing, existing.status == .pending || existing.status == .active else {
                throw MembershipError.notOnList(address: address.entered, list: list.rawValue, status: existing?.status)
            }
            try await Self.markUnsubscribed(
                listID: listID, addressID: existing.addressID, route: .admin, source: source, at: date, on: connection)
            return existing.status
        }
    }

    public func subscriptions(of address: EmailAddress) async throws -> [SubscriptionRecord] {
        try await read { connection in
            try await connection.rows("""
                SELECT l.slug, a.email, s.status, s.name, s.updated_at
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                WHERE a.identity_key = \(address.identityKey) ORDER BY l.slug COLLATE "C"
                """
            ).map { row in
                SubscriptionRecord(
                    listSlug: try row.get("slug"), email: try row.get("email"), status: try Self.status(try row.get("status")),
                    name: try row.get("name"), updatedAt: try row.get("updated_at"))
            }
        }
    }

    /// As on SQLite, with one difference: there is no write-ahead log of ours to empty.
    /// PostgreSQL keeps the erased row versions in the tables until (auto)vacuum reuses
    /// their space, and in its own WAL and archives, which belong to the server's
    /// operator (README, "Running on PostgreSQL"); `walTruncated` is true, so nothing warns
    /// about a SQLite log that does not exist.
    public func forget(_ address: EmailAddress, source: EventSource, at date: Date) async throws -> ForgetReport {
        try await write { connection -> ForgetReport in
            // The key is read once per store and kept (AddressHasher.Cache).
            let keyed = try await addressHasher()
            let hash = keyed.hash(identityKey: address.identityKey)
            var subscriptions = 0, addresses = 0, submissions = 0, outbox = 0, snapshotEntries = 0
            let erasedAt = date.stored
            // The lists the person was on: their webhooks are told of the erasure.
            var listsLeft = Set<Int64>()
            for key in try await Self.spellings(ofMailbox: address.mailboxKey, besides: address.identityKey, on: connection) {
                let keyHash = keyed.hash(identityKey: key)
                let addressIDs = try await connection.rows(
                    "SELECT id FROM addresses WHERE identity_key = \(key) OR address_hash = \(keyHash) ORDER BY id"
                ).map { try $0.get("id", as: Int64.self) }
                if key != address.identityKey, !addressIDs.isEmpty {
                    // Each spelling erased is a state change of its own (invariant 8).
                    try await PostgresLedger.append(
                        NewEvent(.forgotten, addressHash: keyHash, source: source,
                                 detail: ["as": "another spelling of the mailbox"]),
                        at: date, on: connection)
                }
                for id in addressIDs {
                    for row in try await connection.rows("SELECT list_id FROM subscriptions WHERE address_id = \(id)") {
                        listsLeft.insert(try row.get("list_id", as: Int64.self))
                    }
                    // The sender may hold an older snapshot: the unsubscribes feed tells it
                    // which recipient ids to drop, without the address (`erasures`).
                    try await connection.execute("""
                        INSERT INTO erasures (list_id, recipient_id, erased_at)
                        SELECT list_id, recipient_id, \(erasedAt) FROM subscriptions WHERE address_id = \(id)
                        ON CONFLICT DO NOTHING
                        """)
                    // Explicit rather than left to ON DELETE CASCADE, so the count is exact.
                    subscriptions += try await connection.rows(
                        "DELETE FROM subscriptions WHERE address_id = \(id) RETURNING id").count
                    addresses += try await connection.rows("DELETE FROM addresses WHERE id = \(id) RETURNING id").count
                }
                submissions += try await connection.rows(
                    "DELETE FROM submissions WHERE address_hash = \(keyHash) OR identity_key = \(key) RETURNING id").count
                // Posts not yet decided hold the address as typed.
                submissions += try await connection.rows(
                    "DELETE FROM form_requests WHERE identity_key = \(key) RETURNING id").count
                // Every message to the person, whatever its state: its bytes hold the address.
                outbox += try await connection.rows("DELETE FROM outbox WHERE address_hash = \(keyHash) RETURNING id").count
                // Webhook deliveries are kept (a receiver still learns of the change), but
                // without the address: later attempts send `"email": null`.
                try await connection.execute(
                    "UPDATE webhook_deliveries SET email = NULL WHERE address_hash = \(keyHash) AND email IS NOT NULL")
                // A snapshot keeps the count and sha256 it was frozen with, and counts its
                // erased members instead, so the sender can tell why fewer lines arrive.
                let snapshots = try await connection.rows(
                    "DELETE FROM snapshot_members WHERE identity_key = \(key) RETURNING snapshot_id"
                ).map { try $0.get("snapshot_id", as: Int64.self) }
                for snapshot in snapshots {
                    try await connection.execute("UPDATE snapshots SET erased = erased + 1 WHERE id = \(snapshot)")
                }
                snapshotEntries += snapshots.count
            }
            // The mailbox's own hash is suppressed too, so no +tag spelling comes back
            // through an import or an admin add (AddressHasher.hashes).
            let mailboxHash = keyed.hash(identityKey: address.mailboxKey)
            if mailboxHash != hash, try await Self.suppressionRow(mailboxHash, listID: nil, on: connection) == nil {
                try await Self.suppress(
                    hash: mailboxHash, listID: nil, reason: SuppressionReason.forgotten.rawValue, source: source, at: date,
                    on: connection)
            }
            // Keep them out everywhere. A global suppression already there (say `admin`) is
            // at least as strong, and stays.
            let existing = try await connection.value(
                "SELECT reason FROM suppressions WHERE list_id IS NULL AND address_hash = \(hash)", as: String.self)
            if existing == nil {
                try await Self.suppress(
                    hash: hash, listID: nil, reason: SuppressionReason.forgotten.rawValue, source: source, at: date,
                    on: connection)
            }
            let event = try await PostgresLedger.append(
                NewEvent(.forgotten, addressHash: hash, source: source, detail: [
                    "addresses": String(addresses), "subscriptions": String(subscriptions),
                    "submissions": String(submissions), "outbox": String(outbox),
                    "snapshot_members": String(snapshotEntries),
                ]),
                at: date, on: connection)
            // `forgotten` names no list, so the ledger trigger queues nothing for it: the
            // lists the person was on are told here (SQLite's WebhookQueue.queueForgotten).
            for list in listsLeft.sorted() {
                try await connection.execute("""
                    INSERT INTO webhook_deliveries
                        (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
                    SELECT 'msg_' || listgate_random_hex(12), w.id, \(event), 'forgotten', NULL, \(hash), \(erasedAt),
                           \(erasedAt), \(erasedAt)
                    FROM webhooks w JOIN webhook_event_types t ON t.webhook_id = w.id AND t.type = 'forgotten'
                    WHERE w.list_id = \(list) AND w.removed_at IS NULL
                    """)
            }
            return ForgetReport(
                addresses: addresses, subscriptions: subscriptions, submissions: submissions, outboxMessages: outbox,
                snapshotEntries: snapshotEntries,
                suppression: existing.flatMap(SuppressionReason.init(rawValue:)) ?? .forgotten, walTruncated: true)
        }
    }

    public func suppress(_ address: EmailAddress, list: ListSlug?, source: EventSource, at date: Date) async throws
        -> SuppressResult
    {
        let hash = try await addressHasher().hash(identityKey: address.identityKey)
        return try await write { connection -> SuppressResult in
            var listID: Int64?
            if let list { listID = try await Self.requireListID(list, on: connection) }
            let outcome: SuppressOutcome
            if let row = try await Self.suppressionRow(hash, listID: listID, on: connection) {
                let reason = try Self.reason(try row.get("reason"))
                if reason.stopsMail {
                    outcome = .alreadySuppressed(reason)
                } else {
                    try await connection.execute(
                        "UPDATE suppressions SET reason = 'admin', created_at = \(date.stored) WHERE id = \(try row.get("id", as: Int64.self))")
                    try await PostgresLedger.append(
                        NewEvent(.suppressed, listID: listID, addressHash: hash, source: source,
                                 detail: ["reason": SuppressionReason.admin.rawValue, "previous_reason": reason.rawValue]),
                        at: date, on: connection)
                    outcome = .strengthened(from: reason)
                }
            } else {
                try await Self.suppress(
                    hash: hash, listID: listID, reason: SuppressionReason.admin.rawValue, source: source, at: date,
                    on: connection)
                outcome = .added
            }
            // Suppression wins: end what it covers (also when it was already there).
            var ended: [String] = []
            let memberships = try await connection.rows("""
                SELECT s.list_id, s.address_id, l.slug
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                WHERE a.identity_key = \(address.identityKey) AND s.status IN ('pending', 'active')
                  AND (\(listID)::bigint IS NULL OR s.list_id = \(listID))
                ORDER BY l.slug COLLATE "C"
                """)
            for row in memberships {
                if try await Self.markUnsubscribed(
                    listID: try row.get("list_id"), addressID: try row.get("address_id"), route: .admin, source: source,
                    at: date, on: connection) {
                    ended.append(try row.get("slug"))
                }
            }
            // A suppressed address gets no mail at all: what is still queued for it is
            // discarded in the same transaction. (A message a worker has already claimed
            // is in the middle of its SMTP exchange and cannot be called back.)
            let discarded = try await connection.rows("""
                UPDATE outbox SET status = 'discarded', updated_at = \(date.stored)
                WHERE address_hash = \(hash) AND status = 'queued' AND (\(listID)::bigint IS NULL OR list_id = \(listID))
                RETURNING id, list_id
                """
            ).map { (id: try $0.get("id", as: Int64.self), listID: try $0.get("list_id", as: Int64.self)) }
            for message in discarded.sorted(by: { $0.id < $1.id }) {
                try await PostgresLedger.append(
                    NewEvent(.messageDiscarded, listID: message.listID, addressHash: hash, source: source,
                             detail: ["outbox_id": String(message.id), "from_status": "queued", "reason": "suppressed"]),
                    at: date, on: connection)
            }
            return SuppressResult(outcome: outcome, unsubscribedFrom: ended, discardedMessages: discarded.count)
        }
    }

    public func unsuppress(
        _ address: EmailAddress, list: ListSlug?, includingForgotten: Bool, source: EventSource, at date: Date
    ) async throws -> SuppressionReason {
        let hash = try await addressHasher().hash(identityKey: address.identityKey)
        return try await write { connection -> SuppressionReason in
            var listID: Int64?
            if let list { listID = try await Self.requireListID(list, on: connection) }
            guard let row = try await Self.suppressionRow(hash, listID: listID, on: connection) else {
                throw MembershipError.notSuppressed(address: address.entered, list: list?.rawValue)
            }
            let reason = try Self.reason(try row.get("reason"))
            if reason == .forgotten, !includingForgotten {
                throw MembershipError.forgottenNeedsConfirmation(address: address.entered, list: list?.rawValue)
            }
            try await connection.execute("DELETE FROM suppressions WHERE id = \(try row.get("id", as: Int64.self))")
            try await PostgresLedger.append(
                NewEvent(.unsuppressed, listID: listID, addressHash: hash, source: source, detail: ["reason": reason.rawValue]),
                at: date, on: connection)
            return reason
        }
    }

    public func suppressions() async throws -> [SuppressionRecord] {
        try await read { connection in
            try await connection.rows("""
                SELECT s.address_hash, s.reason, s.created_at, l.slug, a.email
                FROM suppressions s
                LEFT JOIN lists l ON l.id = s.list_id
                LEFT JOIN addresses a ON a.address_hash = s.address_hash
                ORDER BY s.created_at, s.id
                """
            ).map { row in
                SuppressionRecord(
                    email: try row.get("email"), addressHash: try row.get("address_hash"), listSlug: try row.get("slug"),
                    reason: try Self.reason(try row.get("reason")), createdAt: try row.get("created_at"))
            }
        }
    }

    // MARK: Helpers

    /// Every identity key held anywhere for one mailbox: `besides` (the address asked
    /// about), the mailbox key itself and each `local+tag@domain` spelling of it.
    static func spellings(ofMailbox mailboxKey: String, besides key: String, on connection: PostgresConnection) async throws
        -> [String]
    {
        guard let at = mailboxKey.lastIndex(of: "@") else { return [key] }
        func escaped(_ text: Substring) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
        }
        let local = String(mailboxKey[..<at])
        let tagged = escaped(local[...]) + "+%" + escaped(mailboxKey[at...])
        let domain = String(mailboxKey[at...])
        var keys: Set<String> = [key, mailboxKey]
        for table in ["addresses", "submissions", "form_requests", "snapshot_members"] {
            // The range (`local+` up to `local,`, the next byte) in byte order (COLLATE
            // "C", as SQLite compares) narrows the candidates; LIKE then checks the domain.
            let candidates = try await connection.rows("""
                SELECT DISTINCT identity_key FROM \(unescaped: table)
                WHERE identity_key COLLATE "C" >= \(local + "+") AND identity_key COLLATE "C" < \(local + ",")
                  AND identity_key LIKE \(tagged) ESCAPE '\\'
                """)
            for row in candidates { keys.insert(try row.get("identity_key", as: String.self)) }
            // Spellings an older listgate let in (`"victim"@…`, `v\ictim@…`, comments):
            // the same inbox, stored under keys of their own (`listgate migrate` reports them).
            let legacy = try await connection.rows("""
                SELECT DISTINCT identity_key FROM \(unescaped: table)
                WHERE (strpos(identity_key, '"') > 0 OR strpos(identity_key, '\\') > 0 OR strpos(identity_key, '(') > 0)
                  AND right(identity_key, length(\(domain))) = \(domain)
                """)
            for row in legacy {
                let spelling = try row.get("identity_key", as: String.self)
                if EmailAddress.mailboxKey(ofIdentityKey: withoutQuoting(spelling)) == mailboxKey { keys.insert(spelling) }
            }
        }
        return keys.sorted()
    }

    /// A stored key as the mailbox it reaches: comments, double quotes and backslashes
    /// taken out of its local part (`"v\ictim"(x)@example.com` → `victim@example.com`).
    static func withoutQuoting(_ key: String) -> String {
        guard let at = key.lastIndex(of: "@") else { return key }
        var local = "", depth = 0, escaped = false
        for character in key[..<at] {
            if escaped { local.append(character); escaped = false; continue }
            switch character {
            case "\\": escaped = true
            case "(": depth += 1
            case ")": depth = max(0, depth - 1)
            case "\"": break
            default: if depth == 0 { local.append(character) }
            }
        }
        return local + String(key[at...])
    }

    /// The list's id for adding people to it: an archived list takes no one new, from
    /// the CLI or an import as from its form (leaving, suppressing and erasing still work).
    /// `listNotFound` when there is none (fail closed: never a default list).
    static func requireOpenListID(_ slug: ListSlug, on connection: PostgresConnection) async throws -> Int64 {
        guard let row = try await connection.row("SELECT id, archived_at FROM lists WHERE slug = \(slug.rawValue)") else {
            throw DomainError.listNotFound(slug.rawValue)
        }
        guard try row.get("archived_at", as: Date?.self) == nil else { throw DomainError.listArchived(slug.rawValue) }
        return try row.get("id")
    }

    /// The list's id, or `listNotFound` (fail closed: never a default list).
    static func requireListID(_ slug: ListSlug, on connection: PostgresConnection) async throws -> Int64 {
        guard let id = try await connection.value("SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self) else {
            throw DomainError.listNotFound(slug.rawValue)
        }
        return id
    }

    /// Any suppression covering this list, whatever its reason; a global one first.
    /// `scope` is nil for a global suppression. `hashes`: the address's own and its
    /// mailbox's (AddressHasher.hashes), so a +tag spelling cannot bring a person back.
    static func suppression(_ hashes: [String], listID: Int64, on connection: PostgresConnection) async throws
        -> (scope: Int64?, reason: SuppressionReason)?
    {
        for hash in hashes {
            if let row = try await connection.row("""
                SELECT list_id, reason FROM suppressions
                WHERE address_hash = \(hash) AND (list_id = \(listID) OR list_id IS NULL)
                ORDER BY list_id IS NULL DESC LIMIT 1
                """)
            {
                return (try row.get("list_id", as: Int64?.self), try reason(try row.get("reason")))
            }
        }
        return nil
    }

    /// The suppression of exactly this scope (`listID` nil: the global one).
    static func suppressionRow(_ hash: String, listID: Int64?, on connection: PostgresConnection) async throws
        -> PostgresRandomAccessRow?
    {
        try await connection.row("""
            SELECT id, reason FROM suppressions
            WHERE address_hash = \(hash) AND list_id IS NOT DISTINCT FROM \(listID)::bigint
            """)
    }

    static func membership(_ address: EmailAddress, listID: Int64, on connection: PostgresConnection) async throws
        -> (id: Int64, addressID: Int64, status: SubscriptionStatus)?
    {
        guard let row = try await connection.row("""
            SELECT s.id, s.address_id, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE s.list_id = \(listID) AND a.identity_key = \(address.identityKey)
            """)
        else { return nil }
        return (try row.get("id"), try row.get("address_id"), try status(try row.get("status")))
    }

    static func status(_ text: String) throws -> SubscriptionStatus {
        guard let status = SubscriptionStatus(rawValue: text) else {
            throw StoreError.unreadableValue(column: "subscriptions.status", "unknown subscription status '\(text)'")
        }
        return status
    }

    static func reason(_ text: String) throws -> SuppressionReason {
        guard let reason = SuppressionReason(rawValue: text) else {
            throw StoreError.unreadableValue(column: "suppressions.reason", "unknown suppression reason '\(text)'")
        }
        return reason
    }
}
