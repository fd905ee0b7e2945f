// Specification of where checkpoints run: in commits for one-shot commands (SQLite's
// way), on a connection of their own for `listgate serve`, whose writer then never
// copies the log back (LogCheckpoints.swift).
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite
import Testing

@Suite("Log checkpoints")
struct LogCheckpointsTests {
    /// Writes a few pages of log per list: lists with long names, one commit each.
    static func write(_ store: SQLiteStore, lists: Int, from first: Int = 0) async throws {
        for index in first..<(first + lists) {
            _ = try await store.createList(
                NewList(slug: ListSlug("list-\(index)"), name: String(repeating: "名前", count: 90),
                        from: Mailbox("Example <news@example.org>"), locale: .ja),
                source: .cli)
        }
    }

    static func store(in directory: TemporaryDirectory, _ checkpoints: LogCheckpoints) async throws -> SQLiteStore {
        let store = try SQLiteStore(path: directory.path("listgate.sqlite3"), checkpoints: checkpoints)
        _ = try await store.migrate()
        return store
    }

    @Test("in serve's mode commits never checkpoint: the log keeps every page until the checkpointer runs")
    func backgroundLeavesTheLogToTheCheckpointer() async throws {
        let directory = try TemporaryDirectory()
        let store = try await Self.store(in: directory, .inBackground)
        try await Self.write(store, lists: 400)
        let checkpointer = try LogCheckpointer(path: directory.path("listgate.sqlite3"))
        // Well past the 250 pages at which a commit would have checkpointed and restarted the log.
        let before = try await checkpointer.checkpoint()
        #expect(before > 400)
        // Everything was copied back: the next commit starts the log over.
        try await Self.write(store, lists: 1, from: 400)
        #expect(try await checkpointer.checkpoint() < 50)
    }

    @Test("in the one-shot commands' mode, commits checkpoint and the log stays short")
    func commitsCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        let store = try await Self.store(in: directory, .inCommits)
        try await Self.write(store, lists: 400)
        let checkpointer = try LogCheckpointer(path: directory.path("listgate.sqlite3"))
        #expect(try await checkpointer.checkpoint() < 300)
    }
}
