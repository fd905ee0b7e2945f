// A read-only look at the tables for the store conformance suite (Tests/ListgateStoreTests),
// which checks what both stores wrote with the same SQL. Package access: not part of the
// store's surface, and never used by listgate itself.
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Every row of `sql`, each column as PostgreSQL's text for it (nil for NULL).
    package func inspect(_ sql: String) async throws -> [[String?]] {
        try await read { connection in
            // The simple protocol answers in text, whatever the column's type.
            try await connection.simpleQuery(sql).get().map { row in
                row.map { cell in cell.bytes.map { String(buffer: $0) } }
            }
        }
    }
}
