// Shared fixtures: every test gets its own real SQLite file in a fresh temp directory.
import Foundation
import GRDB
@testable import ListgateCore
@testable import ListgateSQLite

final class TemporaryDirectory: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("listgate-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// A migrated database in a temp directory, with a raw connection for SQL-level checks
/// that bypass the store on purpose.
struct MigratedDatabase {
    let directory: TemporaryDirectory
    let store: SQLiteStore
    var path: String { directory.path("listgate.sqlite3") }

    static func make() async throws -> MigratedDatabase {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("listgate.sqlite3"))
        _ = try await store.migrate()
        return MigratedDatabase(directory: directory, store: store)
    }

    /// Seals every waiting event, as a command does when it exits.
    @discardableResult
    func seal() async throws -> Int {
        try await store.sealPending(as: "test", lease: .seconds(10)).sealedCount
    }

    func rawConnection() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}

extension NewList {
    static func sample(_ slug: String = "news", name: String = "お知らせ") throws -> NewList {
        try NewList(
            slug: ListSlug(slug), name: name, from: Mailbox("Example 編集部 <news@example.org>"), locale: .ja)
    }
}
