// The WAL checkpointer (see WALCheckpointer) as one of the server's background
// services: it starts with the server and ends at its graceful shutdown, with one last
// checkpoint so the log left behind is short.
import ListgateCore
import ServiceLifecycle

public struct CheckpointService: Service {
    let checkpointer: WALCheckpointer

    public init(_ checkpointer: WALCheckpointer) {
        self.checkpointer = checkpointer
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await checkpointer.run() }
        } catch is CancellationError {
            // Shutdown: the expected way out of the loop.
        }
        _ = try? await checkpointer.checkpoint()
    }
}
