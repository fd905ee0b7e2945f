// Who seals the ledger, and for how long a sealer's lease holds (README, "The ledger:
// durable now, sealed soon"). `serve` seals continuously (LedgerSealer); every other
// command that opened the database seals what is waiting as it exits, unless a live
// server holds the lease, so a database used from the CLI alone is left sealed.
import Foundation
import ListgateCore

enum LedgerSealing {
    /// How long a sealer that stops renewing keeps every other one waiting
    /// (SettingsSource.sealerLease: LISTGATE_SEALER_LEASE_SECONDS, 10 s by default).
    static func leaseDuration() throws -> Duration { try SettingsSource().sealerLease() }

    /// Names this process in the lease, so `events seal` can say who holds it; the random
    /// part keeps a reused process id from passing for the old holder.
    static func holder(_ role: String) -> String {
        let host = String(ProcessInfo.processInfo.hostName.prefix(100))
        return "\(role) pid \(ProcessInfo.processInfo.processIdentifier) on \(host) \(RandomToken.hex(bytes: 4))"
    }

    /// The store the command opened (DatabaseOptions.openMigrated), sealed after it ran.
    private static let opened = OpenedStore()

    static func remember(_ store: any LedgerStore) { opened.set(store) }

    /// Seals what the command left waiting. A failure here does not fail the command:
    /// its changes are committed, and the next command or the server seals them.
    static func sealAfterCommand() async {
        guard let store = opened.get() else { return }
        do {
            _ = try await store.sealPending(as: holder("cli"), lease: leaseDuration())
        } catch {
            Console.writeStderr(
                "warning: the newest ledger events are not sealed yet (\(error)); listgate serve or the next command seals them\n")
        }
    }
}

/// Set once by the command, read once by Entry after it returns.
private final class OpenedStore: @unchecked Sendable {
    private let lock = NSLock()
    private var store: (any LedgerStore)?

    func set(_ store: any LedgerStore) { lock.withLock { self.store = store } }
    func get() -> (any LedgerStore)? { lock.withLock { store } }
}
