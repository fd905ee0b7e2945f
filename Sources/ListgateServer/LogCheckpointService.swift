// Runs the database's checkpoints beside the HTTP server, off the writer
// (ListgateCore's LogCheckpoints.swift says why), and a last one at shutdown.
import ListgateCore
import ServiceLifecycle

public struct LogCheckpointService: Service {
    let checkpointer: LogCheckpointer

    public init(checkpointer: LogCheckpointer) {
        self.checkpointer = checkpointer
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await checkpointer.run() }
    }
}
