// Snapshot queries. The member set is copied in one transaction, so a confirmation or
// an unsubscribe that commits a moment later cannot change what was frozen.
import Crypto
import Foundation
import GRDB

extension SQLiteStore {
    public func takeSnapshot(listID: Int64, tokenID: String?, source: EventSource) async throws -> AudienceSnapshot {
        try await pool.write { db in
            let id = TokenSigner.newID()
            let now = Date()
            let tokenRowID = try tokenID.flatMap {
                try Int64.fetchOne(db, sql: "SELECT id FROM api_tokens WHERE public_id = ?", arguments: [$0])
            }
            try db.execute(
                sql: "INSERT INTO snapshots (public_id, list_id, token_id, count, sha256, created_at) VALUES (?, ?, ?, 0, ?, ?)",
                arguments: [id, listID, tokenRowID, EventLedger.genesisHash, Timestamp.string(now)])
            let snapshotRowID = db.lastInsertedRowID
            // Active members only; any suppression of the address, for this list or every
            // list, keeps it out (fail closed).
            try db.execute(
                sql: """
                    INSERT INTO snapshot_members (snapshot_id, subscription_id, identity_key, email, name, subscribed_at)
                    SELECT ?, s.id, a.identity_key, a.email, s.name, s.subscribed_at
                    FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                    WHERE s.list_id = ? AND s.status = 'active'
                      AND NOT EXISTS (SELECT 1 FROM suppressions x
                                      WHERE x.address_hash = a.address_hash AND (x.list_id = s.list_id OR x.list_id IS NULL))
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
            let digest = hasher.finalize().hexString
            try db.execute(
                sql: "UPDATE snapshots SET count = ?, sha256 = ? WHERE id = ?", arguments: [count, digest, snapshotRowID])
            try EventLedger.append(
                NewEvent(.snapshotTaken, listID: listID, source: source,
                         detail: ["snapshot_id": id, "count": String(count), "sha256": digest]),
                at: now, in: db)
            let slug = try String.fetchOne(db, sql: "SELECT slug FROM lists WHERE id = ?", arguments: [listID]) ?? ""
            return AudienceSnapshot(id: id, listSlug: slug, listID: listID, count: count, sha256: digest, createdAt: now)
        }
    }

    public func snapshot(id: String) async throws -> AudienceSnapshot? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT s.public_id, s.list_id, s.count, s.sha256, s.created_at, l.slug
                    FROM snapshots s JOIN lists l ON l.id = s.list_id WHERE s.public_id = ?
                    """,
                arguments: [id]
            ).map {
                AudienceSnapshot(
                    id: $0["public_id"], listSlug: $0["slug"], listID: $0["list_id"], count: $0["count"],
                    sha256: $0["sha256"], createdAt: Timestamp.parse($0["created_at"]) ?? Date(timeIntervalSince1970: 0))
            }
        }
    }
}
