// Deletes webhook deliveries delivered more than the retention ago (README, "Receiving
// webhooks"; LISTGATE_WEBHOOK_RETENTION), beside the worker in `listgate serve`: shortly
// after start, then every hour, as SnapshotPruner does for snapshots. Each change queues a
// row per receiver, so without this the queue's table only grows; `failed` deliveries stay
// (an admin may still retry them), and pending ones are never touched.
import Foundation
import ListgateCore
import Logging
import ServiceLifecycle

public struct WebhookDeliveryPruner: Service {
    let store: any WebhookDeliveryStore
    /// A delivered delivery is kept this long after it was delivered.
    let retention: Duration
    let logger: Logger
    /// Between two prunings.
    let interval: Duration
    /// Before the first: let the server come up and answer first.
    let firstDelay: Duration

    public init(
        store: any WebhookDeliveryStore, retentionDays: Int, logger: Logger, interval: Duration = .seconds(3600),
        firstDelay: Duration = .seconds(15)
    ) {
        self.store = store
        self.retention = .seconds(retentionDays * 86_400)
        self.logger = logger
        self.interval = interval
        self.firstDelay = firstDelay
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            try? await Task.sleep(for: firstDelay)
            while !Task.isCancelled {
                await prune()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One pruning; how many deliveries went (0 when it failed: logged, tried again later).
    @discardableResult
    public func prune(now: Date = Date()) async -> Int {
        let cutoff = now.addingTimeInterval(-Double(retention.components.seconds))
        do {
            let pruned = try await store.pruneWebhookDeliveries(deliveredBefore: cutoff)
            if pruned > 0 {
                logger.info("old webhook deliveries pruned", metadata: ["deliveries": "\(pruned)"])
            }
            return pruned
        } catch {
            logger.error("pruning old webhook deliveries failed; tried again later", metadata: ["error.type": "\(type(of: error))"])
            return 0
        }
    }
}
