// A read-only look at the tables for the store conformance suite (Tests/ListgateStoreTests),
// which checks what both stores wrote with the same SQL. Package access: not part of the
// store's surface, and never used by listgate itself.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore {
    /// Every row of `sql`, each column as the text SQLite would give for it (nil for NULL):
    /// integers in decimal, booleans as 1 and 0, times as `Timestamp.string`, bytes in hex.
    package func inspect(_ sql: String) async throws -> [[String?]] {
        try await read { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: PostgresConnection.quiet).collect().map { row in
                try row.map { cell -> String? in
                    guard cell.bytes != nil else { return nil }
                    switch cell.dataType {
                    case .int2, .int4, .int8: return String(try cell.decode(Int64.self))
                    case .bool: return try cell.decode(Bool.self) ? "1" : "0"
                    case .timestamptz, .timestamp: return Timestamp.string(try cell.decode(Date.self))
                    case .float4, .float8: return String(try cell.decode(Double.self))
                    case .bytea: return try cell.decode(ByteBuffer.self).readableBytesView.map { String(format: "%02x", $0) }.joined()
                    default: return try cell.decode(String.self)
                    }
                }
            }
        }
    }
}

extension PostgresStore {
    /// Runs `statements` verbatim, in order, in one transaction on one connection, for
    /// tests that set up a state no operation makes (a row as an older listgate stored it)
    /// or change the tables behind the store's back (a forger's edit with the triggers
    /// disabled, `SET LOCAL session_replication_role = replica` first to pass the foreign
    /// keys). Never used by listgate itself.
    package func executeForTests(_ statements: String...) async throws {
        try await executeForTests(statements)
    }

    package func executeForTests(_ statements: [String]) async throws {
        try await readCommitted { connection in
            for statement in statements {
                try await connection.execute(PostgresQuery(unsafeSQL: statement))
            }
        }
    }
}
