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

    /// Runs `sql` as it is, in one transaction: for a test that sets up a state no
    /// operation makes. Never used by listgate itself.
    package func inspectExecute(_ sql: String) async throws {
        try await pool.write { db in try db.execute(sql: sql) }
    }
}
