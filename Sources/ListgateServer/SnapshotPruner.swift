// Deletes the member rows of snapshots older than the retention (README, "Snapshots are
// kept for a while"), beside the HTTP server: shortly after start, then every hour. A
// snapshot is for one send; a million members kept forever would be ~110 MB each.
import Foundation
import ListgateCore
import Logging
import ServiceLifecycle

public struct SnapshotPruner: Service {
    let store: any SnapshotStore
    /// Member rows are kept this long after the snapshot was taken.
    let retention: Duration
    let logger: Logger
    /// Between two prunings.
    let interval: Duration

    public init(store: any SnapshotStore, retentionDays: Int, logger: Logger, interval: Duration = .seconds(3600)) {
        self.store = store
        self.retention = .seconds(retentionDays * 86_400)
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // Not at the very start: let the server come up and answer first.
            try? await Task.sleep(for: .seconds(10))
            while !Task.isCancelled {
                await prune()
                try? await Task.sleep(for: interval)
            }
        }
    }

    func prune() async {
        let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
        do {
            let pruning = try await store.pruneSnapshots(takenBefore: cutoff, batch: 10_000)
            if pruning.snapshots > 0 || pruning.rows > 0 {
                logger.info("old snapshots pruned", metadata: ["snapshots": "\(pruning.snapshots)", "member_rows": "\(pruning.rows)"])
            }
        } catch {
            logger.error("pruning old snapshots failed; tried again later", metadata: ["error.type": "\(type(of: error))"])
        }
    }
}
