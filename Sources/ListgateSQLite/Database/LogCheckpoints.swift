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
    /// A passive checkpoint never blocks the writer, but under constant writes the log
    /// only starts over once a checkpoint has caught up with it before the next commit,
    /// which may never happen. Past this many pages (~64 MB) a pass holds commits back
    /// until it has caught up, so the log cannot grow without end. Measured with
    /// bench/forms.sh on one machine, p99 of paced posts at ~750/s and ~1,200/s: 31.7 and
    /// 41.2 ms with 4,000 pages (the stalls come often), 14.5 and 25.1 ms with 16,000,
    /// 15.6 and 26.9 ms with checkpoints in commits (and fewer posts a second), and 12.1
    /// and 23.4 ms with no limit, where the log grew past 1 GB.
    static let restartAtPages = 16_000

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
