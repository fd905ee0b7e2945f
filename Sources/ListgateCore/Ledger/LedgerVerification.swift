// What `listgate events verify` reports: how much of the hash chain holds and where it
// first breaks. The store computes it (ListgateSQLite's Ledger/EventLedger+Chain.swift).

/// The outcome of checking the ledger's hash chain.
public struct LedgerVerification: Sendable, Equatable {
    /// Events checked and found sound (all of them when the chain holds).
    public let eventCount: Int
    /// The hash of the last sound event: note it, and a later check shows whether any
    /// event up to it changed. Nil for an empty ledger.
    public let lastHash: String?
    public let firstBreak: LedgerBreak?
    /// Whether the triggers that refuse UPDATE and DELETE on events are in place.
    public var appendOnlyTriggersPresent = true

    public init(eventCount: Int, lastHash: String?, firstBreak: LedgerBreak?) {
        self.eventCount = eventCount
        self.lastHash = lastHash
        self.firstBreak = firstBreak
    }

    public var isIntact: Bool { firstBreak == nil }
}

public struct LedgerBreak: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The event's contents do not hash to its stored hash: it was edited.
        case contentMismatch
        /// Its prev_hash is not the hash of the event before it: events were removed,
        /// inserted or reordered.
        case previousHashMismatch(previousID: Int64)
        /// The first event does not start from the genesis hash: earlier events were removed.
        case firstEventNotGenesis
    }

    public let eventID: Int64
    public let reason: Reason

    package init(eventID: Int64, reason: Reason) {
        (self.eventID, self.reason) = (eventID, reason)
    }

    public var description: String {
        switch reason {
        case .contentMismatch:
            "event \(eventID) does not match its hash: it was changed after it was recorded"
        case .previousHashMismatch(let previousID):
            "event \(eventID) does not follow event \(previousID) (its prev_hash differs): events were removed, inserted or reordered"
        case .firstEventNotGenesis:
            "event \(eventID), the first one, does not start the chain: earlier events were removed"
        }
    }
}
