// Admin membership queries (`listgate subscribers`, `listgate suppressions`). Each
// public method is one write transaction: a refusal is thrown inside it, so it rolls
// back and nothing changes. None of them can queue mail.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func addSubscriber(_ subscriber: NewSubscriber, source: EventSource, at date: Date) async throws
        -> AddSubscriberOutcome
    {
        try await pool.write { db in
            let address = subscriber.address
            let listID = try Self.requireOpenListID(subscriber.list, in: db)
            let hash = try AddressHasher.hash(address, in: db)
            // Suppression always wins, whatever its reason: an admin never brings back
            // someone who left, blocked, bounced, complained or was forgotten.
            if let (scope, reason) = try Self.suppression(
                AddressHasher.hashes(identityKey: address.identityKey, in: db), listID: listID, in: db) {
                throw MembershipError.suppressed(
                    address: address.entered, list: scope == nil ? nil : subscriber.list.rawValue, reason: reason)
            }
            let stamp = Timestamp.string(date)
            let status = subscriber.confirmed ? SubscriptionStatus.active : .pending
            if let existing = try Self.membership(address, listID: listID, in: db) {
                if existing.status.hasLeft {
                    throw MembershipError.cannotReactivate(
                        address: address.entered, list: subscriber.list.rawValue, status: existing.status)
                }
                guard existing.status == .pending, subscriber.confirmed else { return .unchanged(existing.status) }
                try db.cachedStatement(sql: """
                    UPDATE subscriptions SET status = 'active', source = 'admin', name = coalesce(?, name),
                        updated_at = ?, subscribed_at = ?
                    WHERE id = ? AND status = 'pending'
                    """)
                    .execute(arguments: [subscriber.name, stamp, stamp, existing.id])
                try EventLedger.append(
                    NewEvent(.subscriberAdded, listID: listID, addressHash: hash, source: source,
                             detail: ["status": SubscriptionStatus.active.rawValue]),
                    at: date, in: db)
                return .activated
            }
            let addressID = try Self.upsertAddress(
                email: address.entered, identityKey: address.identityKey, hash: hash, at: date, in: db)
            try db.cachedStatement(sql: """
                INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
                VALUES (?, ?, ?, ?, 'admin', ?, ?, ?)
                """)
                .execute(arguments: [
                    listID, addressID, subscriber.name, status.rawValue, stamp, stamp, status == .active ? stamp : nil,
                ])
            try EventLedger.append(
                NewEvent(.subscriberAdded, listID: listID, addressHash: hash, source: source,
                         detail: ["status": status.rawValue]),
                at: date, in: db)
            return .added(status)
        }
    }

    public func removeSubscriber(_ address: EmailAddress, from list: ListSlug, source: EventSource, at date: Date)
        async throws -> SubscriptionStatus
    {
        try await pool.write { db in
            let listID = try Self.requireListID(list, in: db)
            let existing = try Self.membership(address, listID: listID, in: db)
            guard let existing, existing.status == .pending || existing.status == .active else {
                throw MembershipError.notOnList(address: address.entered, list: list.rawValue, status: existing?.status)
            }
            try Self.markUnsubscribed(
                listID: listID, addressID: existing.addressID, route: .admin, source: source, at: date, in: db)
            return existing.status
        }
    }

    public func subscriptions(of address: EmailAddress) async throws -> [SubscriptionRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT l.slug, a.email, s.status, s.name, s.updated_at
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                    WHERE a.identity_key = ? ORDER BY l.slug
                    """),
                arguments: [address.identityKey]
            ).map { row in
                SubscriptionRecord(
                    listSlug: row["slug"], email: row["email"], status: try Self.status(row["status"]),
                    name: row["name"], updatedAt: Self.date(row["updated_at"]))
            }
        }
    }

    public func forget(_ address: EmailAddress, source: EventSource, at date: Date) async throws -> ForgetReport {
        let report = try await pool.write { db -> ForgetReport in
            let hash = try AddressHasher.hash(address, in: db)
            var subscriptions = 0, addresses = 0, submissions = 0, outbox = 0, snapshotEntries = 0
            let erasedAt = Timestamp.string(date)
            // The lists the person was on: their webhooks are told of the erasure.
            var listsLeft = Set<Int64>()
            for key in try Self.spellings(ofMailbox: address.mailboxKey, besides: address.identityKey, in: db) {
                let keyHash = try AddressHasher.hash(identityKey: key, key: AddressHasher.key(in: db))
                let addressIDs = try Int64.fetchAll(
                    db.cachedStatement(sql: "SELECT id FROM addresses WHERE identity_key = ? OR address_hash = ?"),
                    arguments: [key, keyHash])
                if key != address.identityKey, !addressIDs.isEmpty {
                    // Each spelling erased is a state change of its own (invariant 8).
                    try EventLedger.append(
                        NewEvent(.forgotten, addressHash: keyHash, source: source,
                                 detail: ["as": "another spelling of the mailbox"]),
                        at: date, in: db)
                }
                for id in addressIDs {
                    listsLeft.formUnion(try Int64.fetchAll(
                        db.cachedStatement(sql: "SELECT list_id FROM subscriptions WHERE address_id = ?"), arguments: [id]))
                    // The sender may hold an older snapshot: the unsubscribes feed tells it
                    // which recipient ids to drop, without the address (`erasures`).
                    try db.cachedStatement(sql: """
                        INSERT OR IGNORE INTO erasures (list_id, recipient_id, erased_at)
                        SELECT list_id, recipient_id, ? FROM subscriptions WHERE address_id = ? AND recipient_id IS NOT NULL
                        """).execute(arguments: [erasedAt, id])
                    // Explicit rather than left to ON DELETE CASCADE, so the count is exact.
                    try db.cachedStatement(sql: "DELETE FROM subscriptions WHERE address_id = ?").execute(arguments: [id])
                    subscriptions += db.changesCount
                    try db.cachedStatement(sql: "DELETE FROM addresses WHERE id = ?").execute(arguments: [id])
                    addresses += db.changesCount
                }
                try db.cachedStatement(sql: "DELETE FROM submissions WHERE address_hash = ? OR identity_key = ?")
                    .execute(arguments: [keyHash, key])
                submissions += db.changesCount
                // Posts not yet decided hold the address as typed.
                try db.cachedStatement(sql: "DELETE FROM form_requests WHERE identity_key = ?").execute(arguments: [key])
                submissions += db.changesCount
                // Every message to the person, whatever its state: its bytes hold the address.
                try db.cachedStatement(sql: "DELETE FROM outbox WHERE address_hash = ?").execute(arguments: [keyHash])
                outbox += db.changesCount
                // Webhook deliveries are kept (a receiver still learns of the change), but
                // without the address: later attempts send `"email": null`.
                try WebhookQueue.eraseAddress(hash: keyHash, in: db)
                // A snapshot keeps the count and sha256 it was frozen with, and counts its
                // erased members instead, so the sender can tell why fewer lines arrive.
                let snapshots = try Int64.fetchAll(
                    db.cachedStatement(sql: "DELETE FROM snapshot_members WHERE identity_key = ? RETURNING snapshot_id"),
                    arguments: [key])
                for snapshot in snapshots {
                    try db.cachedStatement(sql: "UPDATE snapshots SET erased = erased + 1 WHERE id = ?").execute(arguments: [snapshot])
                }
                snapshotEntries += snapshots.count
            }
            // The mailbox's own hash is suppressed too, so no +tag spelling comes back
            // through an import or an admin add (AddressHasher.hashes).
            let mailboxHash = try AddressHasher.mailboxHash(identityKey: address.identityKey, in: db)
            if mailboxHash != hash,
               try Self.suppressionRow(mailboxHash, listID: nil, in: db) == nil {
                try Self.suppress(
                    hash: mailboxHash, listID: nil, reason: SuppressionReason.forgotten.rawValue, source: source, at: date,
                    in: db)
            }
            // Keep them out everywhere. A global suppression already there (say `admin`) is
            // at least as strong, and stays.
            let existing = try String.fetchOne(
                db.cachedStatement(sql: "SELECT reason FROM suppressions WHERE list_id IS NULL AND address_hash = ?"),
                arguments: [hash])
            if existing == nil {
                try Self.suppress(
                    hash: hash, listID: nil, reason: SuppressionReason.forgotten.rawValue, source: source, at: date, in: db)
            }
            let event = try EventLedger.append(
                NewEvent(.forgotten, addressHash: hash, source: source, detail: [
                    "addresses": String(addresses), "subscriptions": String(subscriptions),
                    "submissions": String(submissions), "outbox": String(outbox),
                    "snapshot_members": String(snapshotEntries),
                ]),
                at: date, in: db)
            try WebhookQueue.queueForgotten(event: event, addressHash: hash, lists: listsLeft, at: date, in: db)
            return ForgetReport(
                addresses: addresses, subscriptions: subscriptions, submissions: submissions, outboxMessages: outbox,
                snapshotEntries: snapshotEntries,
                suppression: existing.flatMap(SuppressionReason.init(rawValue:)) ?? .forgotten, walTruncated: false)
        }
        // With secure_delete the erased rows are zeroed in the database file once the
        // change reaches it; until then older page images sit in the write-ahead log.
        // Copy everything back and empty the log. It cannot run inside a transaction,
        // and waits for this process's readers (the barrier) and others' (busy timeout).
        let truncated = try await pool.barrierWriteWithoutTransaction { db -> Bool in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "PRAGMA wal_checkpoint(TRUNCATE)")) else {
                return false
            }
            let busy: Int = row[0]
            return busy == 0
        }
        return report.with(walTruncated: truncated)
    }

    public func suppress(_ address: EmailAddress, list: ListSlug?, source: EventSource, at date: Date) async throws
        -> SuppressResult
    {
        try await pool.write { db in
            let listID = try list.map { try Self.requireListID($0, in: db) }
            let hash = try AddressHasher.hash(address, in: db)
            let outcome: SuppressOutcome
            if let row = try Self.suppressionRow(hash, listID: listID, in: db) {
                let reason = try Self.reason(row["reason"])
                if reason.stopsMail {
                    outcome = .alreadySuppressed(reason)
                } else {
                    try db.cachedStatement(sql: "UPDATE suppressions SET reason = 'admin', created_at = ? WHERE id = ?")
                        .execute(arguments: [Timestamp.string(date), row["id"] as Int64])
                    try EventLedger.append(
                        NewEvent(.suppressed, listID: listID, addressHash: hash, source: source,
                                 detail: ["reason": SuppressionReason.admin.rawValue, "previous_reason": reason.rawValue]),
                        at: date, in: db)
                    outcome = .strengthened(from: reason)
                }
            } else {
                try Self.suppress(
                    hash: hash, listID: listID, reason: SuppressionReason.admin.rawValue, source: source, at: date, in: db)
                outcome = .added
            }
            // Suppression wins: end what it covers (also when it was already there).
            var ended: [String] = []
            let memberships = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT s.list_id, s.address_id, l.slug
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
                    WHERE a.identity_key = ? AND s.status IN ('pending', 'active') AND (? IS NULL OR s.list_id = ?)
                    ORDER BY l.slug
                    """),
                arguments: [address.identityKey, listID, listID])
            for row in memberships {
                if try Self.markUnsubscribed(
                    listID: row["list_id"], addressID: row["address_id"], route: .admin, source: source, at: date, in: db) {
                    ended.append(row["slug"])
                }
            }
            // A suppressed address gets no mail at all: what is still queued for it is
            // discarded in the same transaction. (A message the worker has already claimed
            // is in the middle of its SMTP exchange and cannot be called back.)
            let discarded = try Row.fetchAll(
                db.cachedStatement(sql: """
                    UPDATE outbox SET status = 'discarded', updated_at = ?1
                    WHERE address_hash = ?2 AND status = 'queued' AND (?3 IS NULL OR list_id = ?3)
                    RETURNING id, list_id
                    """),
                arguments: [Timestamp.string(date), hash, listID])
            for row in discarded.sorted(by: { ($0["id"] as Int64) < ($1["id"] as Int64) }) {
                try EventLedger.append(
                    NewEvent(.messageDiscarded, listID: row["list_id"], addressHash: hash, source: source,
                             detail: ["outbox_id": String(row["id"] as Int64), "from_status": "queued", "reason": "suppressed"]),
                    at: date, in: db)
            }
            return SuppressResult(outcome: outcome, unsubscribedFrom: ended, discardedMessages: discarded.count)
        }
    }

    public func unsuppress(
        _ address: EmailAddress, list: ListSlug?, includingForgotten: Bool, source: EventSource, at date: Date
    ) async throws -> SuppressionReason {
        try await pool.write { db in
            let listID = try list.map { try Self.requireListID($0, in: db) }
            let hash = try AddressHasher.hash(address, in: db)
            guard let row = try Self.suppressionRow(hash, listID: listID, in: db) else {
                throw MembershipError.notSuppressed(address: address.entered, list: list?.rawValue)
            }
            let reason = try Self.reason(row["reason"])
            if reason == .forgotten, !includingForgotten {
                throw MembershipError.forgottenNeedsConfirmation(address: address.entered, list: list?.rawValue)
            }
            try db.cachedStatement(sql: "DELETE FROM suppressions WHERE id = ?").execute(arguments: [row["id"] as Int64])
            try EventLedger.append(
                NewEvent(.unsuppressed, listID: listID, addressHash: hash, source: source,
                         detail: ["reason": reason.rawValue]),
                at: date, in: db)
            return reason
        }
    }

    public func suppressions() async throws -> [SuppressionRecord] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT s.address_hash, s.reason, s.created_at, l.slug, a.email
                FROM suppressions s
                LEFT JOIN lists l ON l.id = s.list_id
                LEFT JOIN addresses a ON a.address_hash = s.address_hash
                ORDER BY s.created_at, s.id
                """)
            ).map { row in
                SuppressionRecord(
                    email: row["email"], addressHash: row["address_hash"], listSlug: row["slug"],
                    reason: try Self.reason(row["reason"]), createdAt: Self.date(row["created_at"]))
            }
        }
    }

    // MARK: Helpers

    /// Every identity key held anywhere for one mailbox: `besides` (the address asked
    /// about), the mailbox key itself and each `local+tag@domain` spelling of it.
    static func spellings(ofMailbox mailboxKey: String, besides key: String, in db: Database) throws -> [String] {
        guard let at = mailboxKey.lastIndex(of: "@") else { return [key] }
        func escaped(_ text: Substring) -> String {
            text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
        }
        let local = mailboxKey[..<at]
        let tagged = escaped(local) + "+%" + escaped(mailboxKey[at...])
        let domain = String(mailboxKey[at...])
        var keys: Set<String> = [key, mailboxKey]
        for table in ["addresses", "submissions", "form_requests", "snapshot_members"] {
            // The range (`local+` up to `local,`, the next byte) lets an index on
            // identity_key find the candidates; LIKE then checks the domain.
            keys.formUnion(try String.fetchAll(
                db.cachedStatement(sql: """
                    SELECT DISTINCT identity_key FROM \(table)
                    WHERE identity_key >= ? AND identity_key < ? AND identity_key LIKE ? ESCAPE '\\'
                    """),
                arguments: [local + "+", local + ",", tagged]))
            // Spellings an older listgate let in (`"victim"@…`, `v\ictim@…`, comments):
            // the same inbox, stored under keys of their own (`listgate migrate` reports them).
            let legacy = try String.fetchAll(
                db.cachedStatement(sql: """
                    SELECT DISTINCT identity_key FROM \(table)
                    WHERE (instr(identity_key, '"') > 0 OR instr(identity_key, '\\') > 0 OR instr(identity_key, '(') > 0)
                      AND substr(identity_key, -length(?)) = ?
                    """),
                arguments: [domain, domain])
            keys.formUnion(legacy.filter { EmailAddress.mailboxKey(ofIdentityKey: Self.withoutQuoting($0)) == mailboxKey })
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

    /// The list's id, or `listNotFound` (fail closed: never a default list).
    /// The list's id for adding people to it: an archived list takes no one new, from
    /// the CLI or an import as from its form (leaving, suppressing and erasing still work).
    static func requireOpenListID(_ slug: ListSlug, in db: Database) throws -> Int64 {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, archived_at FROM lists WHERE slug = ?"), arguments: [slug.rawValue])
        else { throw DomainError.listNotFound(slug.rawValue) }
        guard (row["archived_at"] as String?) == nil else { throw DomainError.listArchived(slug.rawValue) }
        return row["id"]
    }

    static func requireListID(_ slug: ListSlug, in db: Database) throws -> Int64 {
        guard let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM lists WHERE slug = ?"), arguments: [slug.rawValue])
        else { throw DomainError.listNotFound(slug.rawValue) }
        return id
    }

    /// Any suppression covering this list, whatever its reason; a global one first.
    /// `scope` is nil for a global suppression. `hashes`: the address's own and its
    /// mailbox's (AddressHasher.hashes), so a +tag spelling cannot bring a person back.
    static func suppression(_ hashes: [String], listID: Int64, in db: Database) throws
        -> (scope: Int64?, reason: SuppressionReason)?
    {
        for hash in hashes {
            if let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT list_id, reason FROM suppressions
                    WHERE address_hash = ? AND (list_id = ? OR list_id IS NULL)
                    ORDER BY list_id IS NULL DESC LIMIT 1
                    """),
                arguments: [hash, listID])
            {
                return (row["list_id"], try reason(row["reason"]))
            }
        }
        return nil
    }

    /// The suppression of exactly this scope (`listID` nil: the global one).
    static func suppressionRow(_ hash: String, listID: Int64?, in db: Database) throws -> Row? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, reason FROM suppressions WHERE address_hash = ? AND list_id IS ?"),
            arguments: [hash, listID])
    }

    static func membership(_ address: EmailAddress, listID: Int64, in db: Database) throws
        -> (id: Int64, addressID: Int64, status: SubscriptionStatus)?
    {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT s.id, s.address_id, s.status FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.list_id = ? AND a.identity_key = ?
                """),
            arguments: [listID, address.identityKey])
        else { return nil }
        return (row["id"], row["address_id"], try status(row["status"]))
    }

    static func status(_ text: String) throws -> SubscriptionStatus {
        guard let status = SubscriptionStatus(rawValue: text) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown subscription status '\(text)'")
        }
        return status
    }

    static func reason(_ text: String) throws -> SuppressionReason {
        guard let reason = SuppressionReason(rawValue: text) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown suppression reason '\(text)'")
        }
        return reason
    }

    static func date(_ text: String) -> Date {
        Timestamp.parse(text) ?? Date(timeIntervalSince1970: 0)
    }
}
