// The store conformance suite's fixture. Each test takes a `StoreKind` argument
// (Tests/Support/StoreKind.swift) and runs once per store: SQLite, a new file in a temp
// directory; PostgreSQL, a new database on the server `make test` starts (Tests/postgres.sh
// sets LISTGATE_TEST_POSTGRES_URL). Run alone without that server, the suite runs on
// SQLite only; under CI it refuses to.
import Foundation
import ListgateCore
import ListgatePostgres
import ListgateSQLite
import ListgateTestSupport
import Testing

/// The stores under test (Tests/Support/StoreKind.swift), named here for every file of the suite.
typealias StoreKind = ListgateTestSupport.StoreKind

/// A migrated, empty store of one kind, seen through the capabilities a test asks for.
struct StoreUnderTest: Sendable {
    let kind: StoreKind
    let sqlite: SQLiteStore?
    let postgres: PostgresStore?
    /// The PostgreSQL database's URL, for a test that opens a second store on it (another
    /// server); nil for SQLite.
    var postgresURL: String? = nil
    /// Keeps the SQLite file's directory for as long as the test holds the store.
    let directory: TemporaryDirectory?

    static func open(_ kind: StoreKind) async throws -> StoreUnderTest {
        switch kind {
        case .sqlite:
            let directory = try TemporaryDirectory()
            let store = try SQLiteStore(path: directory.path("listgate.sqlite3"))
            _ = try await store.migrate()
            return StoreUnderTest(kind: kind, sqlite: store, postgres: nil, directory: directory)
        case .postgres:
            guard let url = try PostgresTestServer.freshDatabaseURL() else {
                throw StoreTestError.noPostgres
            }
            let store = try await PostgresStore.open(url: url)
            _ = try await store.migrate()
            return StoreUnderTest(kind: kind, sqlite: nil, postgres: store, postgresURL: url, directory: nil)
        }
    }

    /// The store as the capabilities `Capability` (a protocol or a composition of them).
    func `as`<Capability>(_ capability: Capability.Type) throws -> Capability {
        let store: Any = sqlite ?? postgres as Any
        guard let typed = store as? Capability else {
            throw StoreTestError.missingCapability("\(kind.rawValue) store is not \(Capability.self)")
        }
        return typed
    }

    /// Rows of `sql`, each column as text: the same SQL is read from both stores, so keep
    /// to what both dialects spell alike (counts, text columns, `WHERE`).
    func rows(_ sql: String) async throws -> [[String?]] {
        if let sqlite { return try await sqlite.inspect(sql) }
        return try await postgres!.inspect(sql)
    }

    /// The single value of `sql` (a count, say).
    func value(_ sql: String) async throws -> String? {
        try await rows(sql).first?.first ?? nil
    }

    /// Runs `sql` (one statement, in both dialects) to set up a state no operation makes.
    func execute(_ sql: String) async throws {
        if let sqlite { return try await sqlite.executeForTests(sql) }
        try await postgres!.executeForTests(sql)
    }

    func count(_ table: String, where condition: String = "1 = 1") async throws -> Int {
        Int(try await value("SELECT count(*) FROM \(table) WHERE \(condition)") ?? "") ?? -1
    }
}

enum StoreTestError: Error, CustomStringConvertible {
    case noPostgres
    case missingCapability(String)

    var description: String {
        switch self {
        case .noPostgres: "LISTGATE_TEST_POSTGRES_URL is not set: run the suite through `make test` (Tests/postgres.sh)"
        case .missingCapability(let what): what
        }
    }
}

final class TemporaryDirectory: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("listgate-store-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

extension NewList {
    static func sample(_ slug: String = "news", name: String = "お知らせ") throws -> NewList {
        try NewList(
            slug: ListSlug(slug), name: name, from: Mailbox("Example 編集部 <news@example.org>"), locale: .ja)
    }
}
