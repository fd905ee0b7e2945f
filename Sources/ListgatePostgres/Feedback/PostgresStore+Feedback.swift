// Senders' feedback on PostgreSQL (FeedbackStore): the same reports, changes, events and
// counts as ListgateSQLite's Feedback/SQLiteStore+Feedback.swift (Feedback.swift says
// what each report does). Whom each report names is looked up first, in one read; then
// the batch is applied in table order, `feedbackBatch` reports per transaction. Within a
// transaction every report's id, its change and its event are written together, so a
// batch cut short is finished by sending it again.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: FeedbackStore {
    /// Reports per transaction. Smaller than SQLite's 20,000: a SERIALIZABLE transaction
    /// that meets a concurrent change is retried whole, so each stays short.
    static let feedbackBatch = 1_000

    public func applyFeedback(_ reports: [FeedbackReport], toList slug: ListSlug, source: EventSource, at date: Date)
        async throws -> FeedbackOutcome
    {
        var outcome = FeedbackOutcome()
        // An id that comes twice in the batch is applied once, the first time.
        let hasher = try await addressHasher()
        var items: [PostgresFeedbackItem] = []
        items.reserveCapacity(reports.count)
        var seen = Set<String>(minimumCapacity: reports.count)
        for report in reports {
            guard seen.insert(report.id).inserted else {
                outcome.duplicates += 1
                continue
            }
            switch report.target {
            case .recipientID(let id): items.append(PostgresFeedbackItem(report: report, key: id, byRecipientID: true))
            case .identityKey(let key):
                items.append(PostgresFeedbackItem(report: report, key: hasher.hash(identityKey: key), byRecipientID: false))
            }
        }
        // Whom each report names, looked up before any write (a subscription's ids never
        // change; one erased meanwhile is looked up again in the write). Then the batch is
        // cut in table order, as on SQLite.
        let named = items
        let subscriptions = try await read { connection -> [Int64?] in
            guard let listID = try await connection.value(
                "SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self)
            else { throw DomainError.listNotFound(slug.rawValue) }
            return try await Self.subscriptionIDs(of: named, listID: listID, on: connection)
        }
        let order = items.indices.sorted {
            (subscriptions[$0] ?? .max, items[$0].report.index) < (subscriptions[$1] ?? .max, items[$1].report.index)
        }
        var start = 0
        while start < order.count {
            let chunk = order[start..<min(start + Self.feedbackBatch, order.count)].map {
                PostgresFeedbackEntry(item: items[$0], subscriptionID: subscriptions[$0])
            }
            start += chunk.count
            let counts = try await write { connection in
                var writer = try await PostgresFeedbackWriter(connection, slug: slug, source: source, at: date)
                try await writer.apply(chunk)
                return writer.outcome
            }
            outcome.accepted += counts.accepted
            outcome.duplicates += counts.duplicates
            outcome.unknown += counts.unknown
        }
        return outcome
    }

    /// The subscription on the list each item names, if any: two queries, one per kind of key.
    static func subscriptionIDs(
        of items: [PostgresFeedbackItem], listID: Int64, on connection: PostgresConnection
    ) async throws -> [Int64?] {
        let recipientIDs = items.filter(\.byRecipientID).map(\.key)
        let hashes = items.filter { !$0.byRecipientID }.map(\.key)
        var byRecipientID: [String: Int64] = [:], byHash: [String: Int64] = [:]
        if !recipientIDs.isEmpty {
            for row in try await connection.rows("""
                SELECT recipient_id, id FROM subscriptions WHERE list_id = \(listID) AND recipient_id = ANY(\(recipientIDs)::text[])
                """)
            {
                byRecipientID[try row.get("recipient_id")] = try row.get("id")
            }
        }
        if !hashes.isEmpty {
            for row in try await connection.rows("""
                SELECT a.address_hash, s.id FROM addresses a JOIN subscriptions s ON s.address_id = a.id
                WHERE s.list_id = \(listID) AND a.address_hash = ANY(\(hashes)::text[])
                """)
            {
                byHash[try row.get("address_hash")] = try row.get("id")
            }
        }
        return items.map { $0.byRecipientID ? byRecipientID[$0.key] : byHash[$0.key] }
    }
}

/// A report with the key its person is looked up by: the recipient id, or the hash of
/// the address.
struct PostgresFeedbackItem: Sendable {
    let report: FeedbackReport
    let key: String
    let byRecipientID: Bool
}

struct PostgresFeedbackEntry: Sendable {
    let item: PostgresFeedbackItem
    let subscriptionID: Int64?
}

/// One transaction's worth of reports on one list.
private struct PostgresFeedbackWriter {
    let connection: PostgresConnection
    let listID: Int64
    let policy: SoftBouncePolicy
    let source: EventSource
    let date: Date
    var outcome = FeedbackOutcome()

    /// A subscription as a report finds it.
    struct Member {
        let id: Int64
        var status: String
        let addressID: Int64
        let addressHash: String
        let subscribedAt: Date?
    }

    init(_ connection: PostgresConnection, slug: ListSlug, source: EventSource, at date: Date) async throws {
        // Read in the transaction that applies it: a policy changed a moment ago holds.
        guard let list = try await connection.row(
            "SELECT id, soft_bounce_limit, soft_bounce_days FROM lists WHERE slug = \(slug.rawValue)")
        else { throw DomainError.listNotFound(slug.rawValue) }
        self.connection = connection
        listID = try list.get("id")
        policy = SoftBouncePolicy(
            checkedLimit: Int(try list.get("soft_bounce_limit", as: Int32.self)),
            days: Int(try list.get("soft_bounce_days", as: Int32.self)))
        self.source = source
        self.date = date.stored
    }

    /// `chunk`: reports in table order (those naming no subscription last), each with the
    /// subscription it was found to name before the transaction.
    mutating func apply(_ chunk: [PostgresFeedbackEntry]) async throws {
        // 1. Each id once per list: an id an earlier request brought is a duplicate.
        let ids = chunk.map(\.item.report.id)
        var fresh = Set<String>(minimumCapacity: chunk.count)
        for row in try await connection.rows("""
            INSERT INTO feedback_reports (list_id, report_id, received_at)
            SELECT \(listID), report_id, \(date) FROM unnest(\(ids)::text[]) AS r (report_id)
            ON CONFLICT DO NOTHING
            RETURNING report_id
            """)
        {
            fresh.insert(try row.get("report_id", as: String.self))
        }
        outcome.duplicates += chunk.count - fresh.count
        // 2. The changes, in table order; one person's reports in the order they came.
        var current: Member?
        for entry in chunk where fresh.contains(entry.item.report.id) {
            if current == nil || current?.id != entry.subscriptionID {
                if let id = entry.subscriptionID, let found = try await member(id: id) {
                    current = found
                } else {
                    current = try await member(entry.item)
                }
            }
            guard current != nil else {
                if try await isGone(entry.item) { outcome.accepted += 1 } else { outcome.unknown += 1 }
                continue
            }
            try await change(entry.item.report, &current!)
            outcome.accepted += 1
        }
    }

    private static func member(_ row: PostgresRandomAccessRow) throws -> Member {
        Member(
            id: try row.get("id"), status: try row.get("status"), addressID: try row.get("address_id"),
            addressHash: try row.get("address_hash"), subscribedAt: try row.get("subscribed_at", as: Date?.self))
    }

    /// The subscription found before the transaction, as it is now (nil if it was erased since).
    private func member(id: Int64) async throws -> Member? {
        try await connection.row("""
            SELECT s.id, s.status, s.address_id, a.address_hash, s.subscribed_at
            FROM subscriptions s JOIN addresses a ON a.id = s.address_id
            WHERE s.id = \(id) AND s.list_id = \(listID)
            """).map(Self.member)
    }

    private func member(_ item: PostgresFeedbackItem) async throws -> Member? {
        let row = item.byRecipientID
            ? try await connection.row("""
                SELECT s.id, s.status, s.address_id, a.address_hash, s.subscribed_at
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.recipient_id = \(item.key) AND s.list_id = \(listID)
                """)
            : try await connection.row("""
                SELECT s.id, s.status, s.address_id, a.address_hash, s.subscribed_at
                FROM addresses a JOIN subscriptions s ON s.address_id = a.id
                WHERE a.address_hash = \(item.key) AND s.list_id = \(listID)
                """)
        return try row.map(Self.member)
    }

    /// Someone who was on the list and is no longer there to be found: erased (by
    /// recipient id), or suppressed here with no subscription left (by address).
    private func isGone(_ item: PostgresFeedbackItem) async throws -> Bool {
        let found = item.byRecipientID
            ? try await connection.value(
                "SELECT 1::bigint FROM erasures WHERE recipient_id = \(item.key) AND list_id = \(listID)", as: Int64.self)
            : try await connection.value("""
                SELECT 1::bigint FROM suppressions WHERE address_hash = \(item.key) AND (list_id = \(listID) OR list_id IS NULL)
                LIMIT 1
                """, as: Int64.self)
        return found != nil
    }

    /// What one report does to a subscription that is still there. Someone who already
    /// left stays as they are.
    private mutating func change(_ report: FeedbackReport, _ member: inout Member) async throws {
        guard member.status == "pending" || member.status == "active" else { return }
        switch report.type {
        case .hardBounce:
            try await end(&member, as: .bounced, detail: report.ledgerDetail)
        case .complaint:
            try await end(&member, as: .complained, detail: report.ledgerDetail)
            try await discardQueuedMail(member)
        case .unsubscribe:
            try await unsubscribe(member, detail: report.ledgerDetail)
            member.status = "unsubscribed"
        case .softBounce:
            let occurred = report.occurredAt.stored
            try await connection.execute(
                "INSERT INTO soft_bounces (subscription_id, occurred_at) VALUES (\(member.id), \(occurred))")
            // The window ends at this bounce, and starts no earlier than the subscription: a
            // person back by their own double opt-in starts again from nothing.
            let count = Int(try await connection.value("""
                SELECT count(*) FROM soft_bounces
                WHERE subscription_id = \(member.id) AND occurred_at > \(policy.windowStart(before: report.occurredAt).stored)
                  AND occurred_at <= \(occurred) AND occurred_at >= \(member.subscribedAt ?? Date.distantPast)
                """, as: Int64.self) ?? 0)
            var detail = report.ledgerDetail
            detail["soft_bounces"] = String(count)
            detail["soft_bounce_limit"] = String(policy.limit)
            detail["soft_bounce_days"] = String(policy.days)
            try await PostgresLedger.append(
                NewEvent(.softBounced, listID: listID, addressHash: member.addressHash, source: source, detail: detail),
                at: date, on: connection)
            if count >= policy.limit { try await end(&member, as: .bounced, detail: detail) }
        }
    }

    /// The subscription leaves as `status`, and the address is suppressed for the list
    /// with the same reason. One event records both: its detail names the suppression when
    /// it is new (`suppression`).
    private func end(_ member: inout Member, as status: SubscriptionStatus, detail: [String: String]) async throws {
        // `unsubscribed_at` is when the person left, whatever the way.
        try await connection.execute("""
            UPDATE subscriptions SET status = \(status.rawValue), unsubscribed_at = \(date), updated_at = \(date)
            WHERE id = \(member.id) AND status IN ('pending', 'active')
            """)
        member.status = status.rawValue
        let suppressed = try await connection.value("""
            INSERT INTO suppressions (list_id, address_hash, reason, created_at)
            VALUES (\(listID), \(member.addressHash), \(status.rawValue), \(date))
            ON CONFLICT DO NOTHING
            RETURNING 1::bigint
            """, as: Int64.self)
        var detail = detail
        if suppressed != nil { detail["suppression"] = status.rawValue }
        try await PostgresLedger.append(
            NewEvent(status == .complained ? .complained : .bounced, listID: listID, addressHash: member.addressHash,
                     source: source, detail: detail),
            at: date, on: connection)
    }

    /// An unsubscribe by the sender's report, as SQLite's `markUnsubscribed` (route
    /// `sender`): the subscription leaves, the address is suppressed for the list.
    private func unsubscribe(_ member: Member, detail: [String: String]) async throws {
        let changed = try await connection.value("""
            UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = \(date), updated_at = \(date)
            WHERE list_id = \(listID) AND address_id = \(member.addressID) AND status IN ('pending', 'active')
            RETURNING 1::bigint
            """, as: Int64.self)
        if changed != nil {
            try await PostgresLedger.append(
                NewEvent(.unsubscribed, listID: listID, addressHash: member.addressHash, source: source,
                         detail: detail.merging(["route": UnsubscribeRoute.sender.rawValue]) { $1 }),
                at: date, on: connection)
        }
        let suppressed = try await connection.value("""
            INSERT INTO suppressions (list_id, address_hash, reason, created_at)
            VALUES (\(listID), \(member.addressHash), 'unsubscribed', \(date))
            ON CONFLICT DO NOTHING
            RETURNING 1::bigint
            """, as: Int64.self)
        if suppressed != nil {
            try await PostgresLedger.append(
                NewEvent(.suppressed, listID: listID, addressHash: member.addressHash, source: source,
                         detail: ["reason": "unsubscribed"]),
                at: date, on: connection)
        }
    }

    /// A complaint stops every mail to the address on this list: what is still queued
    /// for it there is discarded with the complaint, each message with its event.
    private func discardQueuedMail(_ member: Member) async throws {
        let discarded = try await connection.rows("""
            UPDATE outbox SET status = 'discarded', updated_at = \(date), last_error = 'the recipient complained'
            WHERE address_hash = \(member.addressHash) AND list_id = \(listID) AND status = 'queued'
            RETURNING id
            """).map { try $0.get("id", as: Int64.self) }
        for id in discarded.sorted() {
            try await PostgresLedger.append(
                NewEvent(.messageDiscarded, listID: listID, addressHash: member.addressHash, source: source,
                         detail: ["outbox_id": String(id), "from_status": "queued", "reason": "complained"]),
                at: date, on: connection)
        }
    }
}
