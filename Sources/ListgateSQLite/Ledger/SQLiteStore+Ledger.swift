// The ledger's chain in SQLite: the sealer's passes and `listgate events verify`.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func sealLedger(as holder: String, lease: Duration, batch: Int, releasingWhenDone: Bool) async throws -> SealPass {
        // A read first: most passes of an idle server find nothing to do, and a sealer
        // that does not hold the lease should not queue for the write lock to learn it.
        let (current, tail) = try await pool.read { db in
            (try EventLedger.sealerLease(in: db), try EventLedger.tail(in: db))
        }
        let now = Date()
        if let current, current.holder != holder, current.expiresAt > Timestamp.string(now) {
            return .leaseHeld(by: current.holder, until: Timestamp.parse(current.expiresAt))
        }
        if tail.newest == tail.sealed {
            guard let current, current.holder == holder else { return .sealed(count: 0, more: false, oldest: nil) }
            // Renewed when half gone: an idle holder writes every few seconds, not every pass.
            let halfway = Timestamp.string(now.addingTimeInterval(lease.seconds / 2))
            if !releasingWhenDone, current.expiresAt > halfway { return .sealed(count: 0, more: false, oldest: nil) }
        }
        return try await pool.write { db -> SealPass in
            let taken = try EventLedger.takeSealerLease(holder: holder, now: Date(), duration: lease, in: db)
            guard taken.holder == holder else {
                return .leaseHeld(by: taken.holder, until: Timestamp.parse(taken.expiresAt))
            }
            let sealed = try EventLedger.seal(upTo: batch, in: db)
            let more = sealed.count == batch
            if releasingWhenDone, !more { try EventLedger.releaseSealerLease(holder: holder, in: db) }
            return .sealed(count: sealed.count, more: more, oldest: sealed.oldest.flatMap(Timestamp.parse))
        }
    }

    public func releaseSealerLease(held holder: String) async throws {
        try await pool.write { db in try EventLedger.releaseSealerLease(holder: holder, in: db) }
    }

    public func verifyLedger(
        against checkpoint: LedgerCheckpoint?, progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> LedgerVerification {
        try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM event_chain") ?? 0
            var result = try EventLedger.verify(in: db, against: checkpoint) {
                progress(TransferProgress(rows: $0, totalRows: total))
            }
            result.appendOnlyTriggersPresent = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM sqlite_master
                WHERE type = 'trigger' AND name IN (
                    'events_are_append_only_update', 'events_are_append_only_delete',
                    'event_chain_is_append_only_update', 'event_chain_is_append_only_delete')
                """) == 4
            return result
        }
    }
}
