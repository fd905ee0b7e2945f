// What `listgate events verify` reports: how much of the sealed hash chain holds, where
// it first breaks, and whether it still passes through a checkpoint kept elsewhere. The
// store computes it (ListgateSQLite's Ledger/EventLedger+Chain.swift).
import Foundation

/// A point of the chain to keep outside the database (`listgate events checkpoint`):
/// the number of sealed events and the hash of the last. A later `events verify
/// --checkpoint` proves the chain still passes through it, which a chain rewritten and
/// re-hashed from an earlier event, or cut short, does not.
public struct LedgerCheckpoint: Sendable, Equatable, Codable {
    public let count: Int
    public let hash: String

    public init(count: Int, hash: String) {
        self.count = count
        self.hash = hash
    }

    /// The hash the first sealed event starts from.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Before the first event.
    public static let empty = LedgerCheckpoint(count: 0, hash: LedgerCheckpoint.genesisHash)

    public var isWellFormed: Bool {
        count >= 0 && hash.utf8.count == 64
            && hash.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            && (count > 0 || hash == LedgerCheckpoint.genesisHash)
    }
}

/// The outcome of checking the ledger's hash chain.
public struct LedgerVerification: Sendable, Equatable {
    /// The last sound point of the chain: all of it when the chain holds, otherwise the
    /// part before the first problem.
    public let head: LedgerCheckpoint
    /// Events appended but not sealed yet: newer than the head, waiting for the sealer.
    /// Not a problem: they are in the database, only not hashed into the chain yet.
    public let unsealed: Int
    public let firstBreak: LedgerBreak?
    /// Set when a checkpoint was given and the chain no longer passes through it.
    public var checkpointMismatch: CheckpointMismatch?
    /// Whether the triggers that refuse UPDATE and DELETE on events and on the chain are
    /// all in place.
    public var appendOnlyTriggersPresent = true

    public init(head: LedgerCheckpoint, unsealed: Int, firstBreak: LedgerBreak?) {
        self.head = head
        self.unsealed = unsealed
        self.firstBreak = firstBreak
    }

    /// Sealed events found sound.
    public var sealed: Int { head.count }
    public var isIntact: Bool { firstBreak == nil && checkpointMismatch == nil }
    /// What is wrong, in one sentence; nil when the chain holds.
    public var problem: String? { firstBreak?.description ?? checkpointMismatch?.description }
}

public struct LedgerBreak: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The event's contents do not hash to its sealed hash: it was edited.
        case contentMismatch
        /// Its prev_hash is not the hash sealed before it: chain rows were removed,
        /// inserted or reordered.
        case previousHashMismatch(previousID: Int64)
        /// The first sealed event does not start from the genesis hash: earlier ones were removed.
        case firstEventNotGenesis
        /// The chain jumps over positions after this many: their rows were removed.
        case positionsMissing(after: Int)
        /// The chain names an event that is no longer in the ledger: it was removed.
        case eventMissing
        /// Sealed after an event with a higher id, which the sealer never does.
        case outOfOrder(previousID: Int64)
        /// Older than the head's event, yet not in the chain.
        case notInChain(headEventID: Int64)
    }

    public let eventID: Int64
    /// Its place in the chain; nil for an event that has none.
    public let position: Int64?
    public let reason: Reason

    public init(eventID: Int64, position: Int64?, reason: Reason) {
        self.eventID = eventID
        self.position = position
        self.reason = reason
    }

    public var description: String {
        let at = position.map { " (chain position \($0))" } ?? ""
        return switch reason {
        case .contentMismatch:
            "event \(eventID)\(at) does not match its hash: it was changed after it was recorded"
        case .previousHashMismatch(let previousID):
            "event \(eventID)\(at) does not follow event \(previousID) (its prev_hash differs): events were removed, inserted or reordered"
        case .firstEventNotGenesis:
            "event \(eventID)\(at), the first one, does not start the chain: earlier events were removed"
        case .positionsMissing(let count):
            "event \(eventID)\(at) does not follow position \(count): the chain rows between were removed"
        case .eventMissing:
            "event \(eventID)\(at) is sealed but no longer in the ledger: it was removed"
        case .outOfOrder(let previousID):
            "event \(eventID)\(at) is sealed after event \(previousID), a newer one: the chain was reordered"
        case .notInChain(let headEventID):
            "event \(eventID) is older than the sealed head (event \(headEventID)) but not in the chain: it was inserted afterwards, or its chain row was removed"
        }
    }
}

/// How the chain fails to extend a checkpoint.
public enum CheckpointMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The chain holds fewer sealed events than the checkpoint counted: it was cut short.
    case shorter(checkpoint: LedgerCheckpoint, sealed: Int)
    /// Another hash at the checkpoint's position: the chain was rewritten up to there.
    case differentHash(checkpoint: LedgerCheckpoint, found: String)

    public var description: String {
        switch self {
        case .shorter(let checkpoint, let sealed):
            "the chain holds \(sealed) sealed events, fewer than the checkpoint's \(checkpoint.count): it was truncated"
        case .differentHash(let checkpoint, let found):
            "the event at chain position \(checkpoint.count) has hash \(found), not the checkpoint's \(checkpoint.hash): the chain was rewritten"
        }
    }
}
