// A read-only look at the tables for the store conformance suite (Tests/ListgateStoreTests),
// which checks what both stores wrote with the same SQL. Package access: not part of the
// store's surface, and never used by listgate itself.
import Foundation
import GRDB

extension SQLiteStore {
    /// Every row of `sql`, each column as text (nil for NULL).
    package func inspect(_ sql: String) async throws -> [[String?]] {
        try await pool.read { db in
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
    }
}

extension SQLiteStore {
    /// Runs `sql` (one or more statements) outside a transaction, for tests that set up a
    /// state no operation makes or change the tables behind the store's back (a forger's
    /// edit with the triggers dropped). Never used by listgate itself.
    package func executeForTests(_ sql: String) async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }
}
