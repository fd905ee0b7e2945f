// A frozen audience: the active, unsuppressed members of one list at one moment, stored
// (not recomputed) with their count and a SHA-256 over their sorted identity keys, so
// what a sender reviewed is exactly what it sends (README, "Why listgate exists": GooPass 2020).
import Foundation

public struct AudienceSnapshot: Sendable, Equatable {
    public let id: String
    public let listSlug: String
    public let listID: Int64
    /// How many members were frozen; never changes.
    public let count: Int
    /// SHA-256 (hex) of the sorted identity keys joined by "\n"; of "" when empty. Like
    /// `count`, it is what was frozen, erasures or not.
    public let sha256: String
    public let createdAt: Date
    /// How many members have since been erased (`subscribers forget`): the recipients
    /// stream leaves them out, so it has `count - erased` lines.
    public let erased: Int
    /// Whether its member rows were deleted for age (snapshot retention): the metadata
    /// stays, the recipients can no longer be streamed.
    public var expired = false
    /// The list's sender identity when the snapshot was taken, for the newsletter to carry.
    public var senderIdentity = SenderIdentity()
    /// How many distinct approvals its list required when it was taken (frozen; 0: none).
    public var approvalsRequired = 0
    /// How many distinct approvers have approved it so far.
    public var approvals = 0
    /// The public id of the token that took it (nil: taken at the CLI), which may not approve it.
    public var creatorTokenID: String?

    package init(
        id: String, listSlug: String, listID: Int64, count: Int, sha256: String, createdAt: Date, erased: Int,
        expired: Bool = false, senderIdentity: SenderIdentity = SenderIdentity(),
        approvalsRequired: Int = 0, approvals: Int = 0, creatorTokenID: String? = nil
    ) {
        (self.id, self.listSlug, self.listID, self.count, self.sha256) = (id, listSlug, listID, count, sha256)
        (self.createdAt, self.erased, self.expired, self.senderIdentity) = (createdAt, erased, expired, senderIdentity)
        (self.approvalsRequired, self.approvals, self.creatorTokenID) = (approvalsRequired, approvals, creatorTokenID)
    }
}

/// What one pruning of old snapshots did.
public struct SnapshotPruning: Sendable, Equatable {
    /// Snapshots whose members were deleted.
    public var snapshots = 0
    /// Member rows deleted.
    public var rows = 0
    public init(snapshots: Int = 0, rows: Int = 0) {
        self.snapshots = snapshots
        self.rows = rows
    }
}

/// A page of a snapshot's recipients, already written as NDJSON lines (see
/// `RecipientLine`).
public struct RecipientPage: Sendable {
    public let ndjson: [UInt8]
    public let count: Int

    package init(ndjson: [UInt8], count: Int) {
        (self.ndjson, self.count) = (ndjson, count)
    }
}

/// Someone who left a list (unsubscribed, bounced, complained or was suppressed), for the
/// sender to drop during a send that started from an older snapshot. An erased person
/// (`subscribers forget`) is named by `recipientID` alone: no address survives them.
public struct Departure: Sendable, Equatable {
    /// nil for an erasure.
    public let email: String?
    public let recipientID: String
    /// Why the person left: `unsubscribed`, `bounced` or `complained` (the subscription's
    /// state), `blocked` or `admin` (a suppression that stops mail), or `erased`.
    public let reason: String?
    public let unsubscribedAt: String
    /// The feed's order within one time: the identity key, or the recipient id of an erasure.
    public let sortKey: String

    public init(email: String?, recipientID: String, reason: String?, unsubscribedAt: String, sortKey: String) {
        self.email = email
        self.recipientID = recipientID
        self.reason = reason
        self.unsubscribedAt = unsubscribedAt
        self.sortKey = sortKey
    }
}

/// How the recipients stream reads a snapshot: `size` members per read, `ahead` reads
/// running while a page is written. Large enough to amortise a read, small enough that
/// memory stays flat whatever the audience size.
public struct RecipientPaging: Sendable {
    public let size: Int
    public let ahead: Int

    public init(size: Int, ahead: Int) {
        self.size = size
        self.ahead = ahead
    }

    /// An embedded store's read costs no round trip: small pages keep memory lowest.
    public static let embedded = RecipientPaging(size: 1_000, ahead: 2)
}

public protocol SnapshotStore: Sendable {
    /// The paging that suits this store (its cost per read against memory held).
    var recipientPaging: RecipientPaging { get }
    /// Freezes the list's audience now. An empty audience is a snapshot of count 0. A
    /// closed list takes none: `DomainError.listArchived`.
    /// With an `expectation`, an audience that does not meet it throws
    /// `DomainError.audienceMismatch` from inside the transaction: no snapshot, member or
    /// event is kept.
    func takeSnapshot(
        listID: Int64, tokenID: String?, expecting: AudienceExpectation?, source: EventSource
    ) async throws -> AudienceSnapshot
    func snapshot(id: String) async throws -> AudienceSnapshot?
    /// Up to `limit` snapshots, of one list or of all, newest first.
    func snapshots(listID: Int64?, limit: Int) async throws -> [AudienceSnapshot]
    /// A snapshot's approvals, oldest first.
    func approvals(snapshotID: String) async throws -> [SnapshotApproval]
    /// Records an approval the rules allowed (`SnapshotApprovals`): once per approver
    /// (again: `counted: false`, nothing written), with a `snapshot_approved` event, and
    /// `approved_at` set by the approval that reaches the requirement. Concurrent last
    /// approvals are serialised on the snapshot, so exactly one of them makes it ready.
    func recordApproval(
        snapshotID: String, approver: Approver, count: Int, sha256Prefix: String, source: EventSource
    ) async throws -> ApprovalTally
    /// Deletes the member rows of every snapshot taken before `cutoff`, `batch` rows per
    /// transaction so the writer is never held for long; the snapshots stay, marked expired.
    func pruneSnapshots(takenBefore cutoff: Date, batch: Int) async throws -> SnapshotPruning
    /// Up to `limit` members of a snapshot in identity-key order, after `after` (exclusive),
    /// as NDJSON with their unsubscribe links; read in pages so a million recipients
    /// stream in constant memory. The store only reads rows: each line is written by
    /// `RecipientLine`, handed the row's column bytes as stored.
    func snapshotRecipients(snapshotID: String, after: String?, limit: Int, links: LinkBuilder) async throws -> RecipientPage
    /// The identity key of the `limit`-th member after `after`, where the page after that
    /// one starts; nil when fewer remain. It only walks the index, so the next page can be
    /// read while this one still is.
    func snapshotPageEnd(snapshotID: String, after: String?, limit: Int) async throws -> String?
    /// Up to `limit` departures from a list at or after `since` (a `Timestamp` string),
    /// oldest first, after the (time, sort key) position `after` (exclusive).
    func departures(listID: Int64, since: String, after: (time: String, key: String)?, limit: Int) async throws -> [Departure]
}

extension SnapshotStore {
    public var recipientPaging: RecipientPaging { .embedded }

    public func takeSnapshot(listID: Int64, tokenID: String?, source: EventSource) async throws -> AudienceSnapshot {
        try await takeSnapshot(listID: listID, tokenID: tokenID, expecting: nil, source: source)
    }
}

extension AudienceSnapshot {
    /// The `snapshot_taken` event's detail, the same on every store.
    package static func takenEventDetail(
        id: String, count: Int, sha256: String, expectation: AudienceExpectation?, approvalsRequired: Int
    ) -> [String: String] {
        var detail = ["snapshot_id": id, "count": String(count), "sha256": sha256]
        // Only when some are required: a list without approvals records what it always did.
        if approvalsRequired > 0 { detail["approvals_required"] = String(approvalsRequired) }
        detail.merge(expectation?.eventDetail ?? [:]) { current, _ in current }
        return detail
    }
}
