// Seals the ledger beside the HTTP server (README, "The ledger: durable now, sealed
// soon"): every quarter second, the events committed since the last pass are hashed
// into the chain in one short transaction, so the tail is sealed within a second or two
// under full subscribe load while no request ever waits on hashing. One process seals at
// a time, by the lease in the database; this one waits its turn while another holds it.
import Foundation
import ListgateCore
import Logging
import CoreMetrics
import ServiceLifecycle

public struct LedgerSealer: Service {
    let store: any LedgerStore
    /// This process in the lease.
    let holder: String
    /// How long the lease holds without renewal: how long a sealer that died keeps the
    /// next one waiting.
    let lease: Duration
    /// Between two passes that left nothing waiting.
    let interval: Duration
    /// Events per transaction at most: a backlog is sealed in several short writes, so
    /// subscribe posts keep getting the write lock between them.
    let batch: Int
    let logger: Logger

    public init(
        store: any LedgerStore, holder: String, lease: Duration = .seconds(10), interval: Duration = .milliseconds(250),
        batch: Int = 5_000, logger: Logger
    ) {
        self.store = store
        self.holder = holder
        self.lease = lease
        self.interval = interval
        self.batch = batch
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var state = State.starting
            while !Task.isCancelled {
                let more = await pass(&state)
                if !more { try? await Task.sleep(for: interval) }
            }
        }
        // Given back, so the final seal as `serve` exits (or the next server) need not
        // wait for it to expire.
        do { try await store.releaseSealerLease(held: holder) } catch {
            logger.warning("the ledger sealer could not give its lease back; it expires by itself", metadata: ["error": "\(error)"])
        }
    }

    private enum State: Equatable {
        case starting, sealing, waiting(String), failing
    }

    /// One pass; true when more events are waiting right away.
    private func pass(_ state: inout State) async -> Bool {
        do {
            let pass = try await store.sealLedger(as: holder, lease: lease, batch: batch, releasingWhenDone: false)
            switch pass {
            case .sealed(let count, let more, let oldest):
                if state != .sealing, count > 0 || state == .failing {
                    logger.info("sealing the ledger", metadata: ["holder": "\(holder)"])
                    state = .sealing
                }
                if count > 0 {
                    Counter(label: "listgate_ledger_events_sealed_total").increment(by: count)
                }
                // How long the oldest event of this pass waited to be sealed; 0 when none did.
                Gauge(label: "listgate_ledger_seal_lag_seconds").record(oldest.map { max(0, -$0.timeIntervalSinceNow) } ?? 0)
                return more
            case .leaseHeld(let other, let until):
                if state != .waiting(other) {
                    logger.notice(
                        "another process holds the ledger sealer's lease; sealing when it is free",
                        metadata: ["holder": "\(other)", "until": "\(until.map(Timestamp.string) ?? "?")"])
                    state = .waiting(other)
                }
                return false
            }
        } catch is CancellationError {
            return false
        } catch {
            if state != .failing {
                logger.error("sealing the ledger failed; tried again shortly", metadata: ["error": "\(error)"])
                state = .failing
            }
            return false
        }
    }
}
