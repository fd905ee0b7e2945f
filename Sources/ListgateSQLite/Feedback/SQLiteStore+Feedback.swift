// Senders' feedback in SQLite (the feedback room's store; Feedback.swift says what each
// report does). A batch is applied `feedbackBatch` reports per transaction: few enough
// commits that 100,000 hard bounces take seconds, short enough that forms and
// confirmations are written in between. Within a transaction every report's id, its
// change and its events are written together, so a batch cut short is finished by
// sending it again. The hot statements are prepared once per transaction and bound
// through SQLite's C API (BoundStatement), as the import's are.
import Foundation
import GRDB
import ListgateCore
#if canImport(GRDBSQLite)
import GRDBSQLite
#elseif canImport(SQLite3)
import SQLite3
#endif

extension SQLiteStore {
    /// Reports per transaction. Measured with bench/feedback.sh (100,000 hard bounces on a
    /// million members): larger batches write the same index pages fewer times.
    static let feedbackBatch = 20_000

    public func applyFeedback(_ reports: [FeedbackReport], toList slug: ListSlug, source: EventSource, at date: Date)
        async throws -> FeedbackOutcome
    {
        // Addresses are hashed here, off the writer, as a subscribe post's are.
        let hasher = try await addressHasher()
        let items = reports.map { report in
            switch report.target {
            case .recipientID(let id): FeedbackItem(report: report, key: id, byRecipientID: true)
            case .identityKey(let key): FeedbackItem(report: report, key: hasher.hash(identityKey: key), byRecipientID: false)
            }
        }
        var outcome = FeedbackOutcome()
        var start = 0
        repeat {
            let chunk = Array(items[start..<min(start + Self.feedbackBatch, items.count)])
            start += chunk.count
            let counts = try await pool.write { db in
                var writer = try FeedbackWriter(db, slug: slug, source: source, at: date)
                try writer.apply(chunk)
                return writer.outcome
            }
            outcome.accepted += counts.accepted
            outcome.duplicates += counts.duplicates
            outcome.unknown += counts.unknown
        } while start < items.count
        return outcome
    }
}

/// A report with the key its person is looked up by: the recipient id, or the hash of
/// the address.
struct FeedbackItem: Sendable {
    let report: FeedbackReport
    let key: String
    let byRecipientID: Bool
}

/// One transaction's worth of reports on one list.
private struct FeedbackWriter {
    let db: Database
    let listID: Int64
    let policy: SoftBouncePolicy
    let source: EventSource
    let date: Date
    let stamp: String
    var outcome = FeedbackOutcome()

    private let recordReport: BoundStatement
    private let memberByRecipientID: BoundStatement
    private let erased: BoundStatement
    private let memberByHash: BoundStatement
    private let suppressedHere: BoundStatement
    private let leave: BoundStatement
    private let insertSuppression: BoundStatement
    private let insertSoftBounce: BoundStatement
    private let countSoftBounces: BoundStatement
    private let ledger: EventLedger.Appender

    /// A subscription as a report finds it.
    struct Member {
        let id: Int64
        var status: String
        let addressID: Int64
        let addressHash: String
        let subscribedAt: String?
    }

    init(_ db: Database, slug: ListSlug, source: EventSource, at date: Date) throws {
        // Read in the transaction that applies it: a policy changed a moment ago holds.
        guard let list = try Row.fetchOne(
            db, sql: "SELECT id, soft_bounce_limit, soft_bounce_days FROM lists WHERE slug = ?", arguments: [slug.rawValue])
        else { throw DomainError.listNotFound(slug.rawValue) }
        self.db = db
        listID = list["id"]
        policy = SoftBouncePolicy(checkedLimit: list["soft_bounce_limit"], days: list["soft_bounce_days"])
        self.source = source
        self.date = date
        stamp = Timestamp.string(date)
        recordReport = try BoundStatement(db, sql: """
            INSERT INTO feedback_reports (list_id, report_id, received_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING
            """)
        memberByRecipientID = try BoundStatement(db, sql: """
            SELECT s.id, s.status, s.address_id, a.address_hash, s.subscribed_at
            FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE s.recipient_id = ?1 AND s.list_id = ?2
            """)
        erased = try BoundStatement(db, sql: "SELECT 1 FROM erasures WHERE recipient_id = ?1 AND list_id = ?2")
        memberByHash = try BoundStatement(db, sql: """
            SELECT s.id, s.status, s.address_id, a.address_hash, s.subscribed_at
            FROM addresses a JOIN subscriptions s ON s.address_id = a.id
            WHERE a.address_hash = ?1 AND s.list_id = ?2
            """)
        suppressedHere = try BoundStatement(db, sql: """
            SELECT 1 FROM suppressions WHERE address_hash = ?1 AND (list_id = ?2 OR list_id IS NULL)
            """)
        // `unsubscribed_at` is when the person left, whatever the way: the unsubscribes
        // feed finds bounced and complained people by it too.
        leave = try BoundStatement(db, sql: """
            UPDATE subscriptions SET status = ?1, unsubscribed_at = ?2, updated_at = ?2
            WHERE id = ?3 AND status IN ('pending', 'active')
            """)
        insertSuppression = try BoundStatement(db, sql: """
            INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING
            """)
        insertSoftBounce = try BoundStatement(db, sql: "INSERT INTO soft_bounces (subscription_id, occurred_at) VALUES (?1, ?2)")
        // The window ends at this bounce, and starts no earlier than the subscription: a
        // person back by their own double opt-in starts again from nothing.
        countSoftBounces = try BoundStatement(db, sql: """
            SELECT count(*) FROM soft_bounces
            WHERE subscription_id = ?1 AND occurred_at > ?2 AND occurred_at <= ?3 AND occurred_at >= ?4
            """)
        ledger = try EventLedger.Appender(db, occurredAt: stamp)
    }

    mutating func apply(_ items: [FeedbackItem]) throws {
        // 1. Each id once per list, in the primary key's order (the first of a repeated
        //    id in the batch is the one applied).
        var fresh: [FeedbackItem] = []
        fresh.reserveCapacity(items.count)
        for item in items.sorted(by: { ($0.report.id, $0.report.index) < ($1.report.id, $1.report.index) }) {
            recordReport.bind(1, listID)
            recordReport.bind(2, item.report.id)
            recordReport.bind(3, stamp)
            try recordReport.run()
            if db.changesCount == 0 { outcome.duplicates += 1 } else { fresh.append(item) }
        }
        // 2. Whom each names, looked up in key order, which walks the index front to back.
        fresh.sort { ($0.key, $0.report.index) < ($1.key, $1.report.index) }
        var found: [(item: FeedbackItem, member: Member)] = []
        found.reserveCapacity(fresh.count)
        for item in fresh {
            if let member = try member(item) {
                found.append((item, member))
            } else if try isGone(item) {
                outcome.accepted += 1
            } else {
                outcome.unknown += 1
            }
        }
        // 3. The changes, in table order; one person's reports in the order they came.
        found.sort { ($0.member.id, $0.item.report.index) < ($1.member.id, $1.item.report.index) }
        var current: Member?
        for (item, member) in found {
            if current?.id != member.id { current = member }
            try change(item.report, &current!)
            outcome.accepted += 1
        }
    }

    private func member(_ item: FeedbackItem) throws -> Member? {
        let statement = item.byRecipientID ? memberByRecipientID : memberByHash
        statement.bind(1, item.key)
        statement.bind(2, listID)
        return try statement.firstRow { row in
            Member(
                id: sqlite3_column_int64(row, 0), status: BoundStatement.text(row, 1) ?? "",
                addressID: sqlite3_column_int64(row, 2), addressHash: BoundStatement.text(row, 3) ?? "",
                subscribedAt: BoundStatement.text(row, 4))
        }
    }

    /// Someone who was on the list and is no longer there to be found: erased (by
    /// recipient id), or suppressed here with no subscription left (by address).
    private func isGone(_ item: FeedbackItem) throws -> Bool {
        let statement = item.byRecipientID ? erased : suppressedHere
        statement.bind(1, item.key)
        statement.bind(2, listID)
        return try statement.firstRow { _ in true } ?? false
    }

    /// What one report does to a subscription that is still there. Someone who already
    /// left stays as they are.
    private mutating func change(_ report: FeedbackReport, _ member: inout Member) throws {
        guard member.status == "pending" || member.status == "active" else { return }
        switch report.type {
        case .hardBounce:
            try end(&member, as: .bounced, detail: report.ledgerDetail)
        case .complaint:
            try end(&member, as: .complained, detail: report.ledgerDetail)
            try discardQueuedMail(member)
        case .unsubscribe:
            try SQLiteStore.markUnsubscribed(
                listID: listID, addressID: member.addressID, route: .sender, source: source, at: date,
                detail: report.ledgerDetail, in: db)
            member.status = "unsubscribed"
        case .softBounce:
            let occurred = Timestamp.string(report.occurredAt)
            insertSoftBounce.bind(1, member.id)
            insertSoftBounce.bind(2, occurred)
            try insertSoftBounce.run()
            countSoftBounces.bind(1, member.id)
            countSoftBounces.bind(2, Timestamp.string(policy.windowStart(before: report.occurredAt)))
            countSoftBounces.bind(3, occurred)
            countSoftBounces.bind(4, member.subscribedAt ?? "")
            let count = try countSoftBounces.firstRow { Int(sqlite3_column_int64($0, 0)) } ?? 0
            var detail = report.ledgerDetail
            detail["soft_bounces"] = String(count)
            detail["soft_bounce_limit"] = String(policy.limit)
            detail["soft_bounce_days"] = String(policy.days)
            try ledger.append(
                .softBounced, listID: listID, addressHash: member.addressHash, source: source,
                detail: EventLedger.canonicalJSON(detail))
            if count >= policy.limit { try end(&member, as: .bounced, detail: detail) }
        }
    }

    /// The subscription leaves as `status`, and the address is suppressed for the list
    /// with the same reason: one event for the change, one for a new suppression, as
    /// every other path records them.
    private func end(_ member: inout Member, as status: SubscriptionStatus, detail: [String: String]) throws {
        leave.bind(1, status.rawValue)
        leave.bind(2, stamp)
        leave.bind(3, member.id)
        try leave.run()
        member.status = status.rawValue
        let type: EventType = status == .complained ? .complained : .bounced
        try ledger.append(
            type, listID: listID, addressHash: member.addressHash, source: source, detail: EventLedger.canonicalJSON(detail))
        insertSuppression.bind(1, listID)
        insertSuppression.bind(2, member.addressHash)
        insertSuppression.bind(3, status.rawValue)
        insertSuppression.bind(4, stamp)
        try insertSuppression.run()
        if db.changesCount > 0 {
            try ledger.append(
                .suppressed, listID: listID, addressHash: member.addressHash, source: source,
                detail: EventLedger.canonicalJSON(["reason": status.rawValue]))
        }
    }

    /// A complaint stops every mail to the address on this list: what is still queued
    /// for it there is discarded with the complaint, each message with its event.
    private func discardQueuedMail(_ member: Member) throws {
        let discarded = try Int64.fetchAll(
            db.cachedStatement(sql: """
                UPDATE outbox SET status = 'discarded', updated_at = ?1, last_error = 'the recipient complained'
                WHERE address_hash = ?2 AND list_id = ?3 AND status = 'queued'
                RETURNING id
                """),
            arguments: [stamp, member.addressHash, listID])
        for id in discarded.sorted() {
            try ledger.append(
                .messageDiscarded, listID: listID, addressHash: member.addressHash, source: source,
                detail: EventLedger.canonicalJSON(["outbox_id": String(id), "from_status": "queued", "reason": "complained"]))
        }
    }
}
