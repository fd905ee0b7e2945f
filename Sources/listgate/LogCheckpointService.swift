// Runs the SQLite store's checkpoints beside the HTTP server, off the writer
// (Sources/ListgateSQLite/Database/LogCheckpoints.swift says why), and a last one at
// shutdown. Composed here because only this composition root knows the store is SQLite.
import ListgateSQLite
import ServiceLifecycle

struct LogCheckpointService: Service {
    let checkpointer: LogCheckpointer

    func run() async throws {
        await cancelWhenGracefulShutdown { await checkpointer.run() }
    }
}
