// Keeps the write-ahead log short from outside the write path. SQLite's automatic
// checkpoint runs inside the commit that crosses 1,000 log pages: that commit copies
// the pages into the database file and waits for fsync while every other writer waits
// too, which stalled the subscribe path by about a fifth under load. The server runs
// this instead, on a connection of its own: a PASSIVE checkpoint takes no write lock,
// so commits carry on while it copies and syncs. The automatic checkpoint stays on as
// the fallback; with this running it finds (almost) nothing left to copy.
import GRDB

public struct WALCheckpointer: Sendable {
    private let connection: DatabaseQueue
    public let interval: Duration

    public init(databasePath: String, interval: Duration = .milliseconds(100)) throws {
        var configuration = Configuration()
        configuration.label = "listgate.checkpoint"
        connection = try DatabaseQueue(path: databasePath, configuration: configuration)
        self.interval = interval
    }

    /// One PASSIVE checkpoint: the log's length in pages and how many of them are now in
    /// the database file (equal when no reader held older pages back).
    @discardableResult
    public func checkpoint() async throws -> (logPages: Int, copiedPages: Int) {
        try await connection.writeWithoutTransaction { db in
            let result = try db.checkpoint(.passive)
            return (result.walFrameCount, result.checkpointedFrameCount)
        }
    }

    /// Checkpoints every `interval` until the task is cancelled. A failed checkpoint (the
    /// disk full, say) is left to the next round and to SQLite's own fallback.
    public func run() async throws {
        while true {
            try await Task.sleep(for: interval)
            _ = try? await checkpoint()
        }
    }
}
