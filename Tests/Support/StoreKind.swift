// The two stores every store behaviour and the most important loops through the binary are
// tested on: SQLite (a file in a temp directory) and PostgreSQL (a new database on the
// server Tests/postgres.sh starts). Run alone without that server, only SQLite is tested;
// under CI (CI=true) PostgreSQL is always included, so a missing server fails instead of
// passing half-tested.
import Foundation

public enum StoreKind: String, CaseIterable, Sendable {
    case sqlite, postgres

    /// The stores this run tests.
    public static let underTest: [StoreKind] = {
        PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["CI"] == "true"
            ? [.sqlite, .postgres] : [.sqlite]
    }()
}
