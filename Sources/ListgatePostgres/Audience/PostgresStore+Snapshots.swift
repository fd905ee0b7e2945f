// Snapshots on PostgreSQL (SnapshotStore), as ListgateSQLite's
// (Audience/SQLiteStore+Snapshots.swift). The member set is copied in one transaction, so a
// confirmation or an unsubscribe that commits a moment later cannot change what was frozen.
// Identity keys sort byte by byte, as on SQLite: snapshot_members.identity_key is
// COLLATE "C", and the departures feed says COLLATE "C" where it orders by a key.
import Crypto
import Foundation
import ListgateCore
import PostgresNIO

/// The suppression reasons that stop mail (SuppressionReason.stopsMail), bound as an array.
private let mailStopping = SuppressionReason.allCases.filter(\.stopsMail).map(\.rawValue)

extension PostgresStore: SnapshotStore {
    /// A read here is a round trip and a planned query, which at the embedded store's
    /// 1,000 rows cost the stream more than the rows did: pages of 5,000 rows, four in
    /// flight (about 12 MB held while a million stream; measured in docs/benchmarks.md).
    public var recipientPaging: RecipientPaging { RecipientPaging(size: 5_000, ahead: 4) }

    public func takeSnapshot(
        listID: Int64, tokenID: String?, expecting expectation: AudienceExpectation?, source: EventSource
    ) async throws -> AudienceSnapshot {
        // To the millisecond, as stored: the answer to the creation must equal the
        // metadata read back later, field for field.
        let now = Timestamp.truncated(Date())
        let snapshot = try await write { connection in
            guard let list = try await Self.fetchList(id: listID, on: connection) else {
                throw DomainError.listNotFound(String(listID))
            }
            guard !list.isArchived else { throw DomainError.listArchived(list.slug.rawValue) }
            let id = TokenSigner.newID()
            var tokenRowID: Int64?
            if let tokenID {
                tokenRowID = try await connection.value("SELECT id FROM api_tokens WHERE public_id = \(tokenID)", as: Int64.self)
            }
            let identity = list.senderIdentity
            guard let snapshotRowID = try await connection.value("""
                INSERT INTO snapshots (public_id, list_id, token_id, count, sha256, created_at, legal_name, postal_address, contact,
                                       approvals_required)
                VALUES (\(id), \(listID), \(tokenRowID), 0, \(LedgerCheckpoint.genesisHash), \(now),
                        \(identity.legalName), \(identity.postalAddress), \(identity.contact?.text), \(list.snapshotApprovals))
                RETURNING id
                """, as: Int64.self)
            else { throw StoreError.unreadableValue(column: "snapshots.id", "a taken snapshot returned no id") }
            // Active members only; a suppression that stops mail, for this list or every
            // list, keeps the address out even if its subscription looks active (fail
            // closed). The other reasons (unsubscribed, forgotten) keep out admins and
            // imports only: beside an active subscription they can only mean the person's
            // own later double opt-in, which wins.
            try await connection.execute("""
                INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
                SELECT \(snapshotRowID), s.id, a.identity_key, a.email, s.name, s.subscribed_at
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.list_id = \(listID) AND s.status = 'active'
                  AND NOT EXISTS (SELECT 1 FROM suppressions x
                                  WHERE x.address_hash = a.address_hash AND (x.list_id = s.list_id OR x.list_id IS NULL)
                                    AND x.reason = ANY(\(mailStopping)))
                """)
            // The digest over the keys in byte order, streamed: a million keys are never
            // held at once.
            var hasher = SHA256()
            var count = 0
            let keys = try await connection.query(
                "SELECT identity_key FROM snapshot_members WHERE snapshot_id = \(snapshotRowID) ORDER BY identity_key",
                logger: PostgresConnection.quiet)
            for try await row in keys {
                if count > 0 { hasher.update(data: Data("\n".utf8)) }
                if let bytes = row.makeRandomAccess()[0].bytes { hasher.update(data: Data(bytes.readableBytesView)) }
                count += 1
            }
            // Thrown inside the transaction: a refused audience leaves no row behind.
            try expectation?.check(count: count)
            let digest = hasher.finalize().hexString
            try await connection.execute(
                "UPDATE snapshots SET count = \(count), sha256 = \(digest) WHERE id = \(snapshotRowID)")
            try await PostgresLedger.append(
                NewEvent(.snapshotTaken, listID: listID, source: source,
                         detail: AudienceSnapshot.takenEventDetail(
                            id: id, count: count, sha256: digest, expectation: expectation,
                            approvalsRequired: list.snapshotApprovals)),
                at: now, on: connection)
            return AudienceSnapshot(
                id: id, listSlug: list.slug.rawValue, listID: listID, count: count, sha256: digest, createdAt: now, erased: 0,
                senderIdentity: identity, approvalsRequired: list.snapshotApprovals,
                creatorTokenID: tokenRowID == nil ? nil : tokenID)
        }
        // A snapshot is a bulk load, and the sender streams it at once: before autovacuum
        // gets to the new rows, the planner would guess a few and read each page by
        // sorting the whole snapshot (0.6 s a page of a million). PostgreSQL's advice after
        // a bulk load is ANALYZE; it samples at most 30,000 rows, and it is only for speed,
        // so a failure is logged and the snapshot stands.
        do {
            try await statement { connection in try await connection.execute("ANALYZE snapshot_members") }
        } catch {
            logger.warning("ANALYZE snapshot_members after a snapshot failed", metadata: ["error": "\(error)"])
        }
        return snapshot
    }

    /// The columns `snapshot(from:)` reads, from `snapshots s JOIN lists l`.
    static let snapshotColumns = """
        s.public_id, s.list_id, s.count, s.sha256, s.created_at, s.erased, s.members_deleted_at, l.slug,
        s.legal_name, s.postal_address, s.contact, s.approvals_required::bigint AS approvals_required,
        (SELECT count(*) FROM snapshot_approvals a WHERE a.snapshot_id = s.id) AS approvals,
        (SELECT t.public_id FROM api_tokens t WHERE t.id = s.token_id) AS creator
        """

    static func snapshot(from row: PostgresRandomAccessRow) throws -> AudienceSnapshot {
        AudienceSnapshot(
            id: try row.get("public_id"), listSlug: try row.get("slug"), listID: try row.get("list_id"),
            count: Int(try row.get("count", as: Int64.self)), sha256: try row.get("sha256"),
            createdAt: try row.get("created_at"), erased: Int(try row.get("erased", as: Int64.self)),
            expired: try row.get("members_deleted_at", as: Date?.self) != nil,
            senderIdentity: SenderIdentity(
                legalName: try row.get("legal_name"), postalAddress: try row.get("postal_address"),
                contact: try (try row.get("contact", as: String?.self)).map { try SenderContact($0) }),
            approvalsRequired: Int(try row.get("approvals_required", as: Int64.self)),
            approvals: Int(try row.get("approvals", as: Int64.self)),
            creatorTokenID: try row.get("creator", as: String?.self))
    }

    public func snapshot(id: String) async throws -> AudienceSnapshot? {
        try await read { connection in
            try await connection.row("""
                SELECT \(unescaped: Self.snapshotColumns) FROM snapshots s JOIN lists l ON l.id = s.list_id
                WHERE s.public_id = \(id)
                """).map(Self.snapshot(from:))
        }
    }

    public func snapshots(listID: Int64?, limit: Int) async throws -> [AudienceSnapshot] {
        try await read { connection in
            let rows = if let listID {
                try await connection.rows("""
                    SELECT \(unescaped: Self.snapshotColumns) FROM snapshots s JOIN lists l ON l.id = s.list_id
                    WHERE s.list_id = \(listID) ORDER BY s.created_at DESC, s.id DESC LIMIT \(Int64(limit))
                    """)
            } else {
                try await connection.rows("""
                    SELECT \(unescaped: Self.snapshotColumns) FROM snapshots s JOIN lists l ON l.id = s.list_id
                    ORDER BY s.created_at DESC, s.id DESC LIMIT \(Int64(limit))
                    """)
            }
            return try rows.map(Self.snapshot(from:))
        }
    }

    public func approvals(snapshotID: String) async throws -> [SnapshotApproval] {
        try await read { connection in
            try await connection.rows("""
                SELECT a.approver, a.approved_at FROM snapshot_approvals a JOIN snapshots s ON s.id = a.snapshot_id
                WHERE s.public_id = \(snapshotID) ORDER BY a.approved_at, a.approver COLLATE "C"
                """).compactMap { row in
                try Approver(stored: row.get("approver")).map {
                    SnapshotApproval(approver: $0, approvedAt: try row.get("approved_at"))
                }
            }
        }
    }

    public func recordApproval(
        snapshotID: String, approver: Approver, count: Int, sha256Prefix: String, source: EventSource
    ) async throws -> ApprovalTally {
        let now = Timestamp.truncated(Date())
        return try await write { connection in
            // The snapshot row locked first: two last approvals at once would otherwise
            // each count N-1 and neither set approved_at (or both would).
            guard let snapshot = try await connection.row("""
                SELECT id, list_id, approvals_required::bigint AS approvals_required, approved_at
                FROM snapshots WHERE public_id = \(snapshotID) FOR UPDATE
                """)
            else { throw SnapshotApprovalError.snapshotNotFound(snapshotID) }
            let rowID = try snapshot.get("id", as: Int64.self)
            let required = Int(try snapshot.get("approvals_required", as: Int64.self))
            var tokenRowID: Int64?
            if let tokenID = approver.tokenID {
                tokenRowID = try await connection.value("SELECT id FROM api_tokens WHERE public_id = \(tokenID)", as: Int64.self)
            }
            let inserted = try await connection.rows("""
                INSERT INTO snapshot_approvals (snapshot_id, approver, token_id, count, sha256_prefix, approved_at)
                VALUES (\(rowID), \(approver.stored), \(tokenRowID), \(Int64(count)), \(sha256Prefix), \(now))
                ON CONFLICT (snapshot_id, approver) DO NOTHING
                RETURNING approver
                """)
            let counted = inserted.count == 1
            let approvals = try await connection.value(
                "SELECT count(*) FROM snapshot_approvals WHERE snapshot_id = \(rowID)", as: Int64.self) ?? 0
            let tally = ApprovalTally(approvals: Int(approvals), required: required, counted: counted)
            guard counted else { return tally }
            if tally.status == .ready, try snapshot.get("approved_at", as: Date?.self) == nil {
                try await connection.execute("UPDATE snapshots SET approved_at = \(now) WHERE id = \(rowID)")
            }
            try await PostgresLedger.append(
                NewEvent(.snapshotApproved, listID: try snapshot.get("list_id", as: Int64.self), source: source,
                         detail: AudienceSnapshot.approvedEventDetail(id: snapshotID, approver: approver, tally: tally)),
                at: now, on: connection)
            return tally
        }
    }

    public func pruneSnapshots(takenBefore cutoff: Date, batch: Int = 10_000) async throws -> SnapshotPruning {
        // Marked first, in a transaction of its own: from then on the stream answers 410,
        // and a stream already running sees at its end that it may have missed rows.
        let now = Date()
        let marked = try await write { connection in
            try await connection.rows("""
                UPDATE snapshots SET members_deleted_at = \(now.stored)
                WHERE members_deleted_at IS NULL AND created_at < \(cutoff.stored)
                RETURNING id
                """).count
        }
        // Then the rows, a batch per transaction, so forms and confirmations are written in
        // between; this also finishes any snapshot an interrupted pruning left half done.
        var pruning = SnapshotPruning(snapshots: marked)
        let pending = try await read { connection in
            try await connection.rows("""
                SELECT id FROM snapshots s
                WHERE members_deleted_at IS NOT NULL AND EXISTS (SELECT 1 FROM snapshot_members m WHERE m.snapshot_id = s.id)
                ORDER BY id
                """).map { try $0.get("id", as: Int64.self) }
        }
        for snapshotID in pending {
            while true {
                let deleted = try await write { connection in
                    Int(try await connection.value("""
                        WITH gone AS (
                            DELETE FROM snapshot_members WHERE snapshot_id = \(snapshotID) AND identity_key IN (
                                SELECT identity_key FROM snapshot_members WHERE snapshot_id = \(snapshotID)
                                ORDER BY identity_key LIMIT \(batch))
                            RETURNING 1)
                        SELECT count(*) FROM gone
                        """, as: Int64.self) ?? 0)
                }
                pruning.rows += deleted
                if deleted < batch { break }
            }
        }
        return pruning
    }

    public func snapshotRecipients(snapshotID: String, after: String?, limit: Int, links: LinkBuilder) async throws -> RecipientPage {
        try await statement { connection in
            // Keyset paging on the primary key (snapshot_id, identity_key): each page is an
            // index range, so the last page costs what the first did. The page's cells'
            // bytes go straight into its lines; subscribed_at is written as SQLite stores it.
            let rows = try await connection.page("""
                SELECT m.email, m.name, \(unescaped: StoredTime.text("m.subscribed_at")), s.public_id, s.recipient_id
                FROM snapshot_members m JOIN subscriptions s ON s.id = m.subscription_id
                WHERE m.snapshot_id = (SELECT id FROM snapshots WHERE public_id = \(snapshotID))
                  AND m.identity_key > \(after ?? "")
                ORDER BY m.identity_key
                LIMIT \(limit)
                """)
            var writer = RecipientLine(links: links, expected: limit)
            var cells = RowBytes()
            var count = 0
            let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
            for row in rows {
                cells.load(row)
                cells.withCells { column in
                    writer.append(
                        email: column(0) ?? empty, name: column(1), subscribedAt: column(2) ?? empty,
                        subscriptionID: column(3) ?? empty, recipientID: column(4) ?? empty)
                }
                count += 1
            }
            return RecipientPage(ndjson: writer.finish(), count: count)
        }
    }

    public func snapshotPageEnd(snapshotID: String, after: String?, limit: Int) async throws -> String? {
        try await statement { connection in
            try await connection.value("""
                SELECT identity_key FROM snapshot_members
                WHERE snapshot_id = (SELECT id FROM snapshots WHERE public_id = \(snapshotID)) AND identity_key > \(after ?? "")
                ORDER BY identity_key
                LIMIT 1 OFFSET \(limit - 1)
                """, as: String.self)
        }
    }

    public func departures(listID: Int64, since: String, after: (time: String, key: String)?, limit: Int) async throws -> [Departure] {
        // The feed's positions are Timestamp strings, as SQLite stores and compares them.
        // Here they are bound as that text and cast, so each is exactly its millisecond,
        // and each stored time is rounded to its millisecond before it is compared: a time
        // written as a bound Date may lie a microsecond below it (postgres-nio truncates),
        // and a keyset compared without the rounding could return a row twice or skip one.
        // An unreadable `since` or `after` (the route checks them) finds nothing.
        guard Timestamp.parse(since) != nil else { return [] }
        if let after, Timestamp.parse(after.time) == nil { return [] }
        let afterTime = after?.time
        let afterKey = after?.key
        return try await read { connection in
            // Two ways of leaving: the subscription ended (unsubscribed, bounced, complained:
            // the status is the reason), or the address was suppressed for this list or for
            // every list while its subscription still looks active (by a reason that stops
            // mail, as in the snapshot; the suppression's reason). A person who left both
            // ways appears once, at the earlier time, with that way's reason (DISTINCT ON
            // keeps the earliest row of each identity key, as SQLite's min() does).
            let rows = try await connection.rows("""
                WITH left_list(email, identity_key, recipient_id, reason, at) AS (
                    SELECT a.email, a.identity_key, s.recipient_id, s.status,
                           date_trunc('milliseconds', s.unsubscribed_at + interval '500 microseconds')
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = \(listID) AND s.unsubscribed_at IS NOT NULL AND s.status <> 'active'
                      AND s.unsubscribed_at >= \(since)::timestamptz - interval '1 millisecond'
                    UNION ALL
                    SELECT a.email, a.identity_key, s.recipient_id, x.reason,
                           date_trunc('milliseconds', x.created_at + interval '500 microseconds')
                    FROM suppressions x
                    JOIN addresses a ON a.address_hash = x.address_hash
                    JOIN subscriptions s ON s.address_id = a.id AND s.list_id = \(listID)
                    WHERE (x.list_id = \(listID) OR x.list_id IS NULL)
                      AND x.created_at >= \(since)::timestamptz - interval '1 millisecond'
                      AND (s.status <> 'active' OR x.reason = ANY(\(mailStopping)))
                ),
                first_leaving AS (
                    SELECT * FROM (
                        SELECT DISTINCT ON (identity_key) email, identity_key COLLATE "C" AS sort_key, recipient_id, reason, at
                        FROM left_list ORDER BY identity_key, at) AS earliest
                    UNION ALL
                    SELECT NULL, recipient_id COLLATE "C", recipient_id, 'erased',
                           date_trunc('milliseconds', erased_at + interval '500 microseconds')
                    FROM erasures WHERE list_id = \(listID) AND erased_at >= \(since)::timestamptz - interval '1 millisecond'
                )
                SELECT email, sort_key, recipient_id, reason, \(unescaped: StoredTime.text("at")) AS at_text FROM first_leaving
                WHERE at >= \(since)::timestamptz
                  AND (\(afterTime)::text IS NULL OR (at, sort_key) > (\(afterTime)::timestamptz, \(afterKey) COLLATE "C"))
                ORDER BY at, sort_key
                LIMIT \(limit)
                """)
            return try rows.map { row in
                Departure(
                    email: try row.get("email"), recipientID: try row.get("recipient_id"), reason: try row.get("reason"),
                    unsubscribedAt: try row.get("at_text"), sortKey: try row.get("sort_key"))
            }
        }
    }
}
