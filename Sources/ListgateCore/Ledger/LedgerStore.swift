// What the ledger asks of a store: seal appended events into the hash chain (one sealer
// at a time, by a lease), and check the chain. docs/design.md, "The sealed ledger".
import Foundation

/// What one pass of the sealer did.
public enum SealPass: Sendable, Equatable {
    /// This holder has the lease and sealed `count` events (none when nothing was
    /// waiting). `more`: the batch was full and more are waiting. `oldest`: when the
    /// oldest of them was recorded, which tells how far sealing lags behind.
    case sealed(count: Int, more: Bool, oldest: Date?)
    /// Another holder's lease is live until `until`: this pass sealed nothing.
    case leaseHeld(by: String, until: Date?)

    public var sealedCount: Int {
        if case .sealed(let count, _, _) = self { count } else { 0 }
    }
}

public protocol LedgerStore: Sendable {
    /// One pass of the sealer as `holder`: takes or renews the lease unless another
    /// holder's is live, then seals up to `batch` waiting events in one transaction.
    /// With `releasingWhenDone`, the pass that leaves nothing waiting gives the lease
    /// back in the same transaction, so an event committed meanwhile is either sealed
    /// by it or finds the lease free. A pass with nothing to seal and a lease with more
    /// than half its time left writes nothing.
    func sealLedger(as holder: String, lease: Duration, batch: Int, releasingWhenDone: Bool) async throws -> SealPass

    /// Gives the lease back if `holder` has it, so the next sealer need not wait for it to expire.
    func releaseSealerLease(held holder: String) async throws

    /// Checks the sealed chain exactly, counts the unsealed tail, and, given a
    /// checkpoint, whether the chain still passes through it.
    func verifyLedger(
        against checkpoint: LedgerCheckpoint?, progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> LedgerVerification
}

extension LedgerStore {
    /// Seals everything waiting unless another holder's lease is live, then gives the
    /// lease back: for a command that appended events and is about to exit.
    /// Returns the events sealed, or the live lease that kept it from sealing.
    public func sealPending(as holder: String, lease: Duration, batch: Int = 10_000) async throws -> SealPass {
        var total = 0
        var oldest: Date?
        while true {
            let pass = try await sealLedger(as: holder, lease: lease, batch: batch, releasingWhenDone: true)
            guard case .sealed(let count, let more, let first) = pass else {
                // Someone else took over between two batches: what is left is theirs to seal.
                return total == 0 ? pass : .sealed(count: total, more: true, oldest: oldest)
            }
            total += count
            oldest = oldest ?? first
            if !more { return .sealed(count: total, more: false, oldest: oldest) }
        }
    }
}
