// Snapshot queries. The member set is copied in one transaction, so a confirmation or
// an unsubscribe that commits a moment later cannot change what was frozen.
import Crypto
import Foundation
import GRDB
import GRDBSQLite
import ListgateCore

extension SQLiteStore {
    public func takeSnapshot(
        listID: Int64, tokenID: String?, expecting expectation: AudienceExpectation?, source: EventSource
    ) async throws -> AudienceSnapshot {
        try await pool.write { db in
            guard let list = try Self.fetchList(db, where: "id = ?", [listID]) else {
                throw DomainError.listNotFound(String(listID))
            }
            guard !list.isArchived else { throw DomainError.listArchived(list.slug.rawValue) }
            let id = TokenSigner.newID()
            // To the millisecond, as stored: the answer to the creation must equal the
            // metadata read back later, field for field.
            let now = Timestamp.truncated(Date())
            let tokenRowID = try tokenID.flatMap {
                try Int64.fetchOne(db, sql: "SELECT id FROM api_tokens WHERE public_id = ?", arguments: [$0])
            }
            try db.execute(
                sql: """
                    INSERT INTO snapshots (public_id, list_id, token_id, count, sha256, created_at, approvals_required)
                    VALUES (?, ?, ?, 0, ?, ?, ?)
                    """,
                arguments: [id, listID, tokenRowID, EventLedger.genesisHash, Timestamp.string(now), list.snapshotApprovals])
            let snapshotRowID = db.lastInsertedRowID
            let identity = list.senderIdentity
            try db.execute(
                sql: "UPDATE snapshots SET legal_name = ?, postal_address = ?, contact = ? WHERE id = ?",
                arguments: [identity.legalName, identity.postalAddress, identity.contact?.text, snapshotRowID])
            // Active members only; a suppression that stops mail (mailStoppingReasons), for
            // this list or every list, keeps the address out even if its subscription looks
            // active (fail closed). The other reasons (unsubscribed,
            // forgotten) keep out admins and imports only: beside an active subscription
            // they can only mean the person's own later double opt-in, which wins.
            try db.execute(
                sql: """
                    INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
                    SELECT ?, s.id, a.identity_key, a.email, s.name, s.subscribed_at
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = ? AND s.status = 'active'
                      AND NOT EXISTS (SELECT 1 FROM suppressions x
                                      WHERE x.address_hash = a.address_hash AND (x.list_id = s.list_id OR x.list_id IS NULL)
                                        AND x.reason IN \(Self.mailStoppingReasons))
                    """,
                arguments: [snapshotRowID, listID])
            var hasher = SHA256()
            var count = 0
            let keys = try String.fetchCursor(
                db, sql: "SELECT identity_key FROM snapshot_members WHERE snapshot_id = ? ORDER BY identity_key",
                arguments: [snapshotRowID])
            while let key = try keys.next() {
                if count > 0 { hasher.update(data: Data("\n".utf8)) }
                hasher.update(data: Data(key.utf8))
                count += 1
            }
            // Thrown inside the transaction: a refused audience leaves no row behind.
            try expectation?.check(count: count)
            let digest = hasher.finalize().hexString
            try db.execute(
                sql: "UPDATE snapshots SET count = ?, sha256 = ? WHERE id = ?", arguments: [count, digest, snapshotRowID])
            try EventLedger.append(
                NewEvent(.snapshotTaken, listID: listID, source: source,
                         detail: AudienceSnapshot.takenEventDetail(
                            id: id, count: count, sha256: digest, expectation: expectation,
                            approvalsRequired: list.snapshotApprovals)),
                at: now, in: db)
            return AudienceSnapshot(
                id: id, listSlug: list.slug.rawValue, listID: listID, count: count, sha256: digest, createdAt: now, erased: 0,
                senderIdentity: identity, approvalsRequired: list.snapshotApprovals,
                creatorTokenID: tokenRowID == nil ? nil : tokenID)
        }
    }

    /// The columns `snapshot(from:)` reads, from `snapshots s JOIN lists l`.
    static let snapshotColumns = """
        s.public_id, s.list_id, s.count, s.sha256, s.created_at, s.erased, s.members_deleted_at, l.slug,
        s.legal_name, s.postal_address, s.contact, s.approvals_required,
        (SELECT count(*) FROM snapshot_approvals a WHERE a.snapshot_id = s.id) AS approvals,
        (SELECT t.public_id FROM api_tokens t WHERE t.id = s.token_id) AS creator
        """

    static func snapshot(from row: Row) throws -> AudienceSnapshot {
        AudienceSnapshot(
            id: row["public_id"], listSlug: row["slug"], listID: row["list_id"], count: row["count"],
            sha256: row["sha256"], createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
            erased: row["erased"], expired: (row["members_deleted_at"] as String?) != nil,
            senderIdentity: SenderIdentity(
                legalName: row["legal_name"], postalAddress: row["postal_address"],
                contact: try (row["contact"] as String?).map { try SenderContact($0) }),
            approvalsRequired: row["approvals_required"], approvals: row["approvals"], creatorTokenID: row["creator"])
    }

    public func snapshot(id: String) async throws -> AudienceSnapshot? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.snapshotColumns) FROM snapshots s JOIN lists l ON l.id = s.list_id WHERE s.public_id = ?",
                arguments: [id]
            ).map(Self.snapshot(from:))
        }
    }

    public func snapshots(listID: Int64?, limit: Int) async throws -> [AudienceSnapshot] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.snapshotColumns) FROM snapshots s JOIN lists l ON l.id = s.list_id
                    WHERE ?1 IS NULL OR s.list_id = ?1
                    ORDER BY s.created_at DESC, s.id DESC LIMIT ?2
                    """,
                arguments: [listID, limit]
            ).map(Self.snapshot(from:))
        }
    }

    public func approvals(snapshotID: String) async throws -> [SnapshotApproval] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.approver, a.approved_at FROM snapshot_approvals a JOIN snapshots s ON s.id = a.snapshot_id
                    WHERE s.public_id = ? ORDER BY a.approved_at, a.approver
                    """,
                arguments: [snapshotID]
            ).compactMap { row in
                Approver(stored: row["approver"]).map {
                    SnapshotApproval(approver: $0, approvedAt: Timestamp.parse(row["approved_at"]) ?? Date(timeIntervalSince1970: 0))
                }
            }
        }
    }

    public func recordApproval(
        snapshotID: String, approver: Approver, count: Int, sha256Prefix: String, source: EventSource
    ) async throws -> ApprovalTally {
        // One writer at a time on SQLite: two last approvals cannot both read N-1.
        try await pool.write { db in
            guard let snapshot = try Row.fetchOne(
                db, sql: "SELECT id, list_id, approvals_required, approved_at FROM snapshots WHERE public_id = ?",
                arguments: [snapshotID])
            else { throw SnapshotApprovalError.snapshotNotFound(snapshotID) }
            let rowID: Int64 = snapshot["id"]
            let required: Int = snapshot["approvals_required"]
            let tokenRowID = try approver.tokenID.flatMap {
                try Int64.fetchOne(db, sql: "SELECT id FROM api_tokens WHERE public_id = ?", arguments: [$0])
            }
            let now = Timestamp.truncated(Date())
            try db.execute(
                sql: """
                    INSERT INTO snapshot_approvals (snapshot_id, approver, token_id, count, sha256_prefix, approved_at)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (snapshot_id, approver) DO NOTHING
                    """,
                arguments: [rowID, approver.stored, tokenRowID, count, sha256Prefix, Timestamp.string(now)])
            let counted = db.changesCount == 1
            let approvals = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM snapshot_approvals WHERE snapshot_id = ?", arguments: [rowID]) ?? 0
            let tally = ApprovalTally(approvals: approvals, required: required, counted: counted)
            guard counted else { return tally }
            if tally.status == .ready, (snapshot["approved_at"] as String?) == nil {
                try db.execute(
                    sql: "UPDATE snapshots SET approved_at = ? WHERE id = ?", arguments: [Timestamp.string(now), rowID])
            }
            try EventLedger.append(
                NewEvent(.snapshotApproved, listID: snapshot["list_id"], source: source,
                         detail: AudienceSnapshot.approvedEventDetail(id: snapshotID, approver: approver, tally: tally)),
                at: now, in: db)
            return tally
        }
    }

    public func pruneSnapshots(takenBefore cutoff: Date, batch: Int = 10_000) async throws -> SnapshotPruning {
        // Marked first, in a transaction of its own: from then on the stream answers 410,
        // and a stream already running sees at its end that it may have missed rows.
        let marked = try await pool.write { db in
            let ids = try Int64.fetchAll(db, sql: """
                SELECT id FROM snapshots WHERE members_deleted_at IS NULL AND created_at < ? ORDER BY id
                """, arguments: [Timestamp.string(cutoff)])
            let now = Timestamp.string(Date())
            for id in ids {
                try db.execute(sql: "UPDATE snapshots SET members_deleted_at = ? WHERE id = ?", arguments: [now, id])
            }
            return ids.count
        }
        // Then the rows, a batch per transaction, so forms and confirmations are written in
        // between; this also finishes any snapshot an interrupted pruning left half done.
        var pruning = SnapshotPruning(snapshots: marked)
        let pending = try await pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM snapshots s
                WHERE members_deleted_at IS NOT NULL AND EXISTS (SELECT 1 FROM snapshot_members m WHERE m.snapshot_id = s.id)
                ORDER BY id
                """)
        }
        for snapshotID in pending {
            while true {
                let deleted = try await pool.write { db in
                    try db.execute(sql: """
                        DELETE FROM snapshot_members WHERE snapshot_id = ?1 AND identity_key IN (
                            SELECT identity_key FROM snapshot_members WHERE snapshot_id = ?1 ORDER BY identity_key LIMIT ?2)
                        """, arguments: [snapshotID, batch])
                    return db.changesCount
                }
                pruning.rows += deleted
                if deleted < batch { break }
            }
        }
        return pruning
    }
}

extension SQLiteStore {
    public func snapshotRecipients(snapshotID: String, after: String?, limit: Int, links: LinkBuilder) async throws -> RecipientPage {
        try await pool.read { db in
            // Keyset paging on the primary key (snapshot_id, identity_key): each page is an
            // index range, so the last page costs what the first did.
            let statement = try db.cachedStatement(sql: """
                SELECT m.email, m.name, m.subscribed_at, s.public_id, s.recipient_id
                FROM snapshot_members m JOIN subscriptions s ON s.id = m.subscription_id
                WHERE m.snapshot_id = (SELECT id FROM snapshots WHERE public_id = ?1)
                  AND m.identity_key > ?2
                ORDER BY m.identity_key
                LIMIT ?3
                """)
            statement.arguments = [snapshotID, after ?? "", limit]
            // Columns are read as bytes straight from SQLite into the page (no String per
            // column): this loop runs once per recipient of a million-member snapshot.
            var writer = RecipientLine(links: links, expected: limit)
            let handle = statement.sqliteStatement
            var count = 0
            let rows = try Row.fetchCursor(statement)
            while try rows.next() != nil {
                func column(_ index: Int32) -> UnsafeBufferPointer<UInt8>? {
                    guard let text = sqlite3_column_text(handle, index) else { return nil }
                    return UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, index)))
                }
                writer.append(
                    email: column(0) ?? UnsafeBufferPointer(start: nil, count: 0), name: column(1),
                    subscribedAt: column(2) ?? UnsafeBufferPointer(start: nil, count: 0),
                    subscriptionID: column(3) ?? UnsafeBufferPointer(start: nil, count: 0),
                    recipientID: column(4) ?? UnsafeBufferPointer(start: nil, count: 0))
                count += 1
            }
            return RecipientPage(ndjson: writer.finish(), count: count)
        }
    }

    public func snapshotPageEnd(snapshotID: String, after: String?, limit: Int) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: """
                    SELECT identity_key FROM snapshot_members
                    WHERE snapshot_id = (SELECT id FROM snapshots WHERE public_id = ?1) AND identity_key > ?2
                    ORDER BY identity_key
                    LIMIT 1 OFFSET ?3
                    """),
                arguments: [snapshotID, after ?? "", limit - 1])
        }
    }

    public func departures(listID: Int64, since: String, after: (time: String, key: String)?, limit: Int) async throws -> [Departure] {
        try await pool.read { db in
            // Two ways of leaving: the subscription ended (unsubscribed, bounced, complained:
            // the status is the reason), or the address was suppressed for this list or for
            // every list while its subscription still looks active (by a reason that stops
            // mail, as in the snapshot; the suppression's reason). A person who left both ways
            // appears once, at the earlier time, with that way's reason (SQLite takes a bare
            // column of an aggregate query from the row min() chose).
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    WITH left_list(email, identity_key, recipient_id, reason, at) AS (
                        SELECT a.email, a.identity_key, s.recipient_id, s.status, s.unsubscribed_at
                        FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                        WHERE s.list_id = ?1 AND s.unsubscribed_at IS NOT NULL AND s.status <> 'active'
                          AND s.unsubscribed_at >= ?2
                        UNION ALL
                        SELECT a.email, a.identity_key, s.recipient_id, x.reason, x.created_at
                        FROM suppressions x
                        JOIN addresses a ON a.address_hash = x.address_hash
                        JOIN subscriptions s ON s.address_id = a.id AND s.list_id = ?1
                        WHERE (x.list_id = ?1 OR x.list_id IS NULL) AND x.created_at >= ?2
                          AND (s.status <> 'active' OR x.reason IN \(Self.mailStoppingReasons))
                    ),
                    first_leaving AS (
                        SELECT email, identity_key AS sort_key, recipient_id, reason, min(at) AS at
                        FROM left_list GROUP BY identity_key
                        UNION ALL
                        SELECT NULL, recipient_id, recipient_id, 'erased', erased_at
                        FROM erasures WHERE list_id = ?1 AND erased_at >= ?2
                    )
                    SELECT email, sort_key, recipient_id, reason, at FROM first_leaving
                    WHERE (at, sort_key) > (?3, ?4)
                    ORDER BY at, sort_key
                    LIMIT ?5
                    """),
                arguments: [listID, since, after?.time ?? "", after?.key ?? "", limit])
            var page: [Departure] = []
            while let row = try rows.next() {
                page.append(Departure(email: row[0], recipientID: row[2], reason: row[3], unsubscribedAt: row[4], sortKey: row[1]))
            }
            return page
        }
    }
}
