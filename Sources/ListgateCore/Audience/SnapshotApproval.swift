// Approvals of a frozen audience (README, "Before you send"): a list may require N
// people to approve each snapshot, by its exact count and SHA-256, before the recipients
// can be streamed. The rules live here (`SnapshotApprovals`); the stores record what the
// rules allowed, and their schema refuses anything else (0015_senders_guard.sql).
import Foundation

/// Whether a snapshot's recipients may be streamed.
public enum SnapshotStatus: String, Sendable, Equatable {
    case ready
    case awaitingApproval = "awaiting_approval"
}

/// Who approved: an admin at the CLI (by the name they gave) or a sender API token with
/// `audience:approve`. Stored as `admin:NAME` or `token:ID`; the store counts each once.
public enum Approver: Sendable, Hashable, CustomStringConvertible {
    case admin(String)
    case token(String)

    /// An admin's name: one line of at most 100 characters, so the ledger stays readable.
    /// Compared as one person whatever its case or width (NFKC, lower case: "Alice" and
    /// "ａｌｉｃｅ" are alice), and refused with invisible characters (controls, format
    /// characters such as U+200B), which would let one person approve twice under names
    /// that look the same. Counted in scalars, as the schema's length() counts.
    public static func admin(named name: String) throws(SnapshotApprovalError) -> Approver {
        let folded = name.trimmingCharacters(in: .whitespaces).precomposedStringWithCompatibilityMapping.lowercased()
        guard (1...100).contains(folded.unicodeScalars.count),
              !folded.unicodeScalars.contains(where: {
                  $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
              })
        else { throw SnapshotApprovalError.invalidApprover }
        return .admin(folded)
    }

    public init?(stored: String) {
        if stored.hasPrefix("admin:") { self = .admin(String(stored.dropFirst(6))) }
        else if stored.hasPrefix("token:") { self = .token(String(stored.dropFirst(6))) }
        else { return nil }
    }

    public var stored: String {
        switch self {
        case .admin(let name): "admin:\(name)"
        case .token(let id): "token:\(id)"
        }
    }

    public var description: String { stored }

    /// The token's public id, for a token approver.
    public var tokenID: String? {
        if case .token(let id) = self { return id }
        return nil
    }
}

/// One recorded approval.
public struct SnapshotApproval: Sendable, Equatable {
    public let approver: Approver
    public let approvedAt: Date

    public init(approver: Approver, approvedAt: Date) {
        self.approver = approver
        self.approvedAt = approvedAt
    }
}

/// Where a snapshot stands after an approval was asked for.
public struct ApprovalTally: Sendable, Equatable {
    /// Distinct approvers so far, this one included.
    public let approvals: Int
    public let required: Int
    /// False when this approver had already approved: nothing new was recorded.
    public let counted: Bool

    public init(approvals: Int, required: Int, counted: Bool) {
        self.approvals = approvals
        self.required = required
        self.counted = counted
    }

    public var status: SnapshotStatus { approvals >= required ? .ready : .awaitingApproval }
}

public enum SnapshotApprovalError: Error, Equatable, Sendable, CustomStringConvertible {
    case snapshotNotFound(String)
    /// The snapshot's list required no approvals when it was taken.
    case notRequired
    /// Its members were deleted for age: there is nothing left to send.
    case expired
    /// The count or the sha256 is not the snapshot's. The actual values are not told: an
    /// approver must have read them where the sender showed them.
    case mismatch
    /// The token that took the snapshot cannot approve it: the point is a second person.
    case byCreator
    /// The sha256 given is not 8 to 64 hex digits.
    case invalidPrefix
    case invalidApprover

    public var description: String {
        switch self {
        case .snapshotNotFound(let id): "no snapshot '\(String(id.prefix(64)).printable)'"
        case .notRequired: "this snapshot needs no approval: its list required none when it was taken"
        case .expired: "this snapshot's members were deleted after the retention period; take a new snapshot"
        case .mismatch: "the count or sha256 is not this snapshot's: nothing was recorded; check what you were shown"
        case .byCreator: "the token that took this snapshot cannot approve it; another person must"
        case .invalidPrefix: "the sha256 must be at least its first 8 hex digits (up to all 64)"
        case .invalidApprover: "the approver's name must be 1–100 characters on one line"
        }
    }
}

extension AudienceSnapshot {
    public var status: SnapshotStatus { approvals >= approvalsRequired ? .ready : .awaitingApproval }

    /// The `snapshot_approved` event's detail, the same on every store.
    package static func approvedEventDetail(id: String, approver: Approver, tally: ApprovalTally) -> [String: String] {
        ["snapshot_id": id, "approver": approver.stored, "approvals": String(tally.approvals),
         "approvals_required": String(tally.required)]
    }
}

/// The approval rules, checked before the store is asked to record anything.
public struct SnapshotApprovals: Sendable {
    let store: any SnapshotStore

    public init(store: any SnapshotStore) {
        self.store = store
    }

    /// Records `approver`'s approval of the snapshot `snapshotID` if `count` is its count
    /// and `sha256Prefix` (8–64 hex digits, any case) starts its sha256. The same approver
    /// again is not counted twice (`counted: false`).
    public func approve(
        snapshotID: String, by approver: Approver, count: Int, sha256Prefix: String, source: EventSource
    ) async throws -> ApprovalTally {
        let prefix = sha256Prefix.lowercased()
        guard (8...64).contains(prefix.count), prefix.allSatisfy(\.isHexDigit) else { throw SnapshotApprovalError.invalidPrefix }
        guard let snapshot = try await store.snapshot(id: snapshotID) else {
            throw SnapshotApprovalError.snapshotNotFound(snapshotID)
        }
        try Self.check(snapshot, by: approver, count: count, sha256Prefix: prefix)
        return try await store.recordApproval(
            snapshotID: snapshotID, approver: approver, count: count, sha256Prefix: prefix, source: source)
    }

    /// Every rule but the snapshot's existence; `sha256Prefix` already lower-case.
    public static func check(
        _ snapshot: AudienceSnapshot, by approver: Approver, count: Int, sha256Prefix: String
    ) throws(SnapshotApprovalError) {
        guard snapshot.approvalsRequired > 0 else { throw .notRequired }
        guard !snapshot.expired else { throw .expired }
        if let token = approver.tokenID, token == snapshot.creatorTokenID { throw .byCreator }
        guard count == snapshot.count, snapshot.sha256.hasPrefix(sha256Prefix) else { throw .mismatch }
    }
}
