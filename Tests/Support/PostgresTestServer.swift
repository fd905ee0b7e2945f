// The PostgreSQL server the tests share: `make test` runs them under Tests/postgres.sh,
// which starts a private cluster on a loopback port and names it in
// LISTGATE_TEST_POSTGRES_URL. Each test takes a database of its own from it, so tests
// never see each other's rows. Databases are made by `psql`, a child process, so this
// target needs no PostgreSQL client library.
//
// Run alone (`swift test` without the script) the variable is unset and PostgreSQL tests
// skip, saying why; in CI (CI=true) a missing server is an error instead, so a broken
// setup can never pass as a green run with the PostgreSQL half skipped.
import Foundation

public enum PostgresTestServer {
    public static let environmentVariable = "LISTGATE_TEST_POSTGRES_URL"

    /// Why PostgreSQL tests skip when no server is configured (for `.enabled(if:_:)`).
    public static let skipReason =
        "\(environmentVariable) is not set: run the tests under `Tests/postgres.sh run -- swift test …` (as `make test` does)"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The server's URL (its `postgres` database), or nil when none is configured.
    public static var serverURL: String? {
        guard let url = ProcessInfo.processInfo.environment[environmentVariable], !url.isEmpty else { return nil }
        return url
    }

    /// Whether PostgreSQL tests can run here.
    public static var isConfigured: Bool { serverURL != nil }

    /// Creates a new, empty database with a name of its own and returns its URL; nil when no
    /// server is configured (the test should then skip, with `skipReason`). Throws when
    /// none is configured under CI=true, or when the database cannot be created.
    public static func freshDatabaseURL() throws -> String? {
        guard let server = serverURL else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                throw Failure(description: "CI=true, but \(skipReason)")
            }
            return nil
        }
        var random = SystemRandomNumberGenerator()
        let name = "lg_" + (0..<2).map { _ in hex(random.next() as UInt64) }.joined()
        try psql(server, "CREATE DATABASE \(name)")
        return try url(server, database: name)
    }

    /// Drops a database `freshDatabaseURL()` made, for suites that make many (each costs
    /// ~8 MB until Tests/postgres.sh deletes the whole cluster at the end).
    public static func dropDatabase(url: String) throws {
        guard let server = serverURL else { return }
        guard let name = URLComponents(string: url)?.path.dropFirst(), name.hasPrefix("lg_"),
            name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
        else {
            throw Failure(description: "not a database made by PostgresTestServer: \(url)")
        }
        try psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// `server` with its database replaced by `database` (user, host, port and query kept).
    static func url(_ server: String, database: String) throws -> String {
        guard var components = URLComponents(string: server), components.host != nil else {
            throw Failure(description: "\(environmentVariable) is not a postgres:// URL: \(server)")
        }
        components.path = "/" + database
        guard let url = components.string else {
            throw Failure(description: "could not put the database \(database) into \(server)")
        }
        return url
    }

    /// Runs one statement with `psql` against `url`; its error output becomes the failure.
    static func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
        var environment = ProcessInfo.processInfo.environment
        // A server that went away fails the test rather than hanging it.
        environment["PGCONNECT_TIMEOUT"] = "10"
        process.environment = environment
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw Failure(description: "could not run psql (Debian's postgresql-client): \(error)")
        }
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw Failure(
                description: "psql \(sql) failed (status \(process.terminationStatus)): "
                    + errorText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Every row `sql` returns on `url`, read by `psql` (the test's own reader, not
    /// listgate's), each column as psql prints it, nil for NULL.
    public static func rows(url: String, _ sql: String) throws -> [[String?]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Unit and record separators, and a NULL marker no stored text holds.
        process.arguments = [
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\u{1F}", "-R", "\u{1E}",
            "-P", "null=\u{1A}NULL", "-d", url, "-c", sql,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "psql \(sql) failed: \(errorText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard !body.isEmpty else { return [] }
        return body.split(separator: "\u{1E}", omittingEmptySubsequences: false).map { record in
            record.split(separator: "\u{1F}", omittingEmptySubsequences: false).map { $0 == "\u{1A}NULL" ? nil : String($0) }
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
