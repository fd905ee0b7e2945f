// Runs the built `listgate` executable as a user would, capturing exit status,
// stdout and stderr. Each test works on its own database file in a temp directory.
import Foundation
import GRDB
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String

    /// The contract: a failure's last stderr line is `error: …`.
    var lastErrorLine: String? {
        stderr.split(separator: "\n").last.map(String.init)
    }
}

enum Binary {
    /// The `listgate` binary next to the test bundle (SwiftPM builds it because the test
    /// target depends on it); LISTGATE_BIN overrides.
    static let url: URL = {
        if let override = ProcessInfo.processInfo.environment["LISTGATE_BIN"] {
            return URL(fileURLWithPath: override)
        }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("listgate"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("listgate"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/listgate"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    /// The repository's root (for files it ships, such as `deploy/`).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws
        -> CommandResult
    {
        try runTool(url.path, arguments, environment: environment, in: directory)
    }

    /// Any program, run the same way (no LISTGATE_ variables from the test's environment).
    static func runTool(_ path: String, _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil)
        throws -> CommandResult
    {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTGATE_") }
        env.merge(environment) { $1 }
        let outcome = try ChildProcess.run(URL(fileURLWithPath: path), arguments, environment: env, in: directory)
        return CommandResult(outcome)
    }
}

extension Binary {
    /// `listgate ARGS --db <workspace db>` with `input` on its standard input.
    static func run(_ arguments: [String], input: Data, in workspace: Workspace) throws -> CommandResult {
        let outcome = try ChildProcess.run(
            Binary.url, arguments + ["--db", workspace.db],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTGATE_") }, in: workspace.url,
            input: input)
        return CommandResult(outcome)
    }
}

extension CommandResult {
    init(_ outcome: ChildProcess.Outcome) {
        self.init(
            status: outcome.status, stdout: String(decoding: outcome.stdout, as: UTF8.self),
            stderr: String(decoding: outcome.stderr, as: UTF8.self))
    }
}

final class Workspace: @unchecked Sendable {
    let url: URL
    /// What `--db` names: the SQLite file in this directory, or a new PostgreSQL database's URL.
    let db: String
    let kind: StoreKind

    init(_ kind: StoreKind = .sqlite) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.kind = kind
        switch kind {
        case .sqlite:
            db = url.appendingPathComponent("listgate.sqlite3").path
        case .postgres:
            guard let database = try PostgresTestServer.freshDatabaseURL() else {
                throw WorkspaceError(message: PostgresTestServer.skipReason)
            }
            db = database
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// `listgate ARGS --db <this workspace's db>`
    @discardableResult
    func listgate(_ arguments: String..., environment: [String: String] = [:]) throws -> CommandResult {
        try Binary.run(arguments + ["--db", db], environment: environment, in: url)
    }

    func migrated() throws -> Workspace {
        let result = try listgate("migrate")
        guard result.status == 0 else { throw WorkspaceError(message: "migrate failed: \(result.stderr)") }
        return self
    }
}

struct WorkspaceError: Error { let message: String }

extension Workspace {
    /// `lists create news --name お知らせ --from news@example.org`, plus `extra` options.
    func createNews(_ extra: String...) throws {
        let created = try Binary.run(
            ["lists", "create", "news", "--name", "お知らせ", "--from", "news@example.org", "--db", db] + extra)
        #expect(created.status == 0, "\(created.stderr)")
    }
}

extension Workspace {
    /// Rows of a query on either store, each column as text (nil for NULL), read by the
    /// test (GRDB or psql), not by listgate. Keep to SQL both dialects spell alike.
    func texts(_ sql: String) throws -> [[String?]] {
        switch kind {
        case .sqlite:
            return try DatabaseQueue(path: db).read { db in
                try Row.fetchAll(db, sql: sql).map { row in
                    row.databaseValues.map { value -> String? in
                        switch value.storage {
                        case .null: nil
                        case .int64(let number): String(number)
                        case .double(let number): String(number)
                        case .string(let text): text
                        case .blob(let data): data.map { String(format: "%02x", $0) }.joined()
                        }
                    }
                }
            }
        case .postgres:
            return try PostgresTestServer.rows(url: db, sql)
        }
    }

    /// The count `SELECT count(*) FROM table WHERE condition` gives, on either store.
    func count(_ table: String, where condition: String = "1 = 1") throws -> Int {
        Int(try texts("SELECT count(*) FROM \(table) WHERE \(condition)").first?.first.flatMap { $0 } ?? "") ?? -1
    }

    /// Rows of a query on this workspace's SQLite database, read by the test, not by listgate.
    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try DatabaseQueue(path: db).read { try Row.fetchAll($0, sql: sql, arguments: arguments) }
    }

    /// Every row of every table, as text: equal dumps mean nothing changed.
    func dump() throws -> String {
        try DatabaseQueue(path: db).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { table in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"").map(\.description).sorted()
                return "\(table):\n" + rows.joined(separator: "\n")
            }.joined(separator: "\n")
        }
    }
}

/// A command's `--json` output that is one object.
func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// A TCP port that was free a moment ago (the kernel picks it).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw WorkspaceError(message: "could not find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// GET a URL and return (status, body), or nil while nothing listens there yet.
func httpGet(_ url: String) async -> (Int, String)? {
    guard let url = URL(string: url),
          let (data, response) = try? await URLSession.shared.data(from: url),
          let http = response as? HTTPURLResponse
    else { return nil }
    return (http.statusCode, String(decoding: data, as: UTF8.self))
}
