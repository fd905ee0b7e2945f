// Where the write-ahead log is copied back into the database file. SQLite does it, by
// default, inside the commit that crosses a size, on the committing connection: for
// `listgate serve` that is the one writer, which then waits for two fsyncs while every
// form post waits for it (perf on Benchmarks/IntakeBenchmark: a quarter of the writer's
// time). So `serve` turns that off and checkpoints from a connection of its own, beside
// the writer; one-shot commands keep SQLite's way, which needs nothing running.
import Foundation
import GRDB

public enum LogCheckpoints: Sendable {
    /// In the commit that crosses `wal_autocheckpoint` pages (SQLite's way).
    case inCommits
    /// By a `LogCheckpointer` on its own connection; commits never checkpoint.
    case inBackground
}

/// Checkpoints the log of one database, from its own connection, until cancelled.
public struct LogCheckpointer: Sendable {
    private let connection: DatabaseQueue
    /// Between two passes.
    let interval: Duration
    /// A passive checkpoint never blocks the writer, but under constant writes it may not
    /// catch up, and the log only starts over once it has. Past this many pages (~16 MB)
    /// a pass holds new commits back until it has caught up, so the log cannot grow
    /// without end.
    static let restartAtPages = 4_000

    public init(path: String, interval: Duration = .milliseconds(100)) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// One pass: what is in the log is copied into the database file (and the log made
    /// to start over when it grew too long). Returns the log's length in pages.
    @discardableResult
    public func checkpoint() async throws -> Int {
        try await connection.writeWithoutTransaction { db in
            let pass = try db.checkpoint(.passive)
            if pass.walFrameCount > Self.restartAtPages {
                return try db.checkpoint(.restart).walFrameCount
            }
            return pass.walFrameCount
        }
    }

    /// Checkpoints every `interval` until the task is cancelled; a failed pass (the
    /// database busy past the timeout) is tried again at the next.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            _ = try? await checkpoint()
        }
        _ = try? await checkpoint()
    }
}
