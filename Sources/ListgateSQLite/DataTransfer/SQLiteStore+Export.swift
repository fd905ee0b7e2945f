// `listgate export` in SQLite. Each runs in one read transaction, so it sees one
// consistent moment while the server keeps writing. Rows are stepped with SQLite's C API
// and their bytes copied straight into the output buffer: no row is ever held in memory
// beyond the one being written.
import Foundation
import GRDB
import ListgateCore
#if canImport(GRDBSQLite)
import GRDBSQLite
#elseif canImport(SQLite3)
import SQLite3
#endif

extension SQLiteStore {
    static let subscriberExportColumns = ["list", "email", "name", "status", "subscribed_at", "unsubscribed_at", "source"]
    static let eventExportColumns = [
        "id", "occurred_at", "type", "list", "address_hash", "source", "consent_version", "detail", "prev_hash", "hash",
    ]
    private static let progressEvery = 16_384

    public func exportSubscribers(
        list: ListSlug, status: ExportStatusFilter, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        try await pool.read { db in
            let listID = try Self.requireListID(list, in: db)
            let filter = status == .active ? "AND s.status = 'active'" : ""
            let total = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM subscriptions s WHERE s.list_id = ? \(filter)", arguments: [listID]) ?? 0
            let writer = try TabularWriter(format: format, columns: Self.subscriberExportColumns, destination: destination)
            let statement = try db.makeStatement(sql: """
                SELECT a.email, s.name, s.status, s.subscribed_at, s.unsubscribed_at, s.source
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.list_id = ? \(filter)
                ORDER BY s.address_id
                """)
            // In address order, which the list's indexes already hold: no sort, the rows
            // stream from the first one.
            try statement.setArguments([listID])
            var slug = list.rawValue
            let rows = try slug.withUTF8 { slugBytes in
                try Self.stepRows(statement, in: db) { row, count in
                    try writer.text(slugBytes)
                    for column in 0..<6 { try writer.text(Self.text(row, Int32(column))) }
                    try writer.endRow()
                    if count % Self.progressEvery == 0 { progress(TransferProgress(rows: count, totalRows: total)) }
                }
            }
            try writer.finish()
            progress(TransferProgress(rows: rows, totalRows: total))
            return rows
        }
    }

    public func exportEvents(
        list: ListSlug?, since: Date?, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let list {
                conditions.append("e.list_id = ?")
                arguments += [try Self.requireListID(list, in: db)]
            }
            if let since {
                conditions.append("e.occurred_at >= ?")
                arguments += [Timestamp.string(since)]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Self.writeEvents(
                filter: filter, arguments: arguments, format: format, to: destination, progress: progress, in: db)
        }
    }

    public func exportEvents(
        of address: EmailAddress, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        try await pool.read { db in
            let (filter, arguments) = try Self.personEventFilter(address, in: db)
            return try Self.writeEvents(
                filter: "WHERE " + filter, arguments: arguments, format: format, to: destination, progress: progress, in: db)
        }
    }

    /// The events matching `filter` (a WHERE clause over `events e`), oldest first.
    private static func writeEvents(
        filter: String, arguments: StatementArguments, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void, in db: Database
    ) throws -> Int {
        let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM events e \(filter)", arguments: arguments) ?? 0
        let writer = try TabularWriter(format: format, columns: Self.eventExportColumns, destination: destination)
        let statement = try db.makeStatement(sql: """
            SELECT e.id, e.occurred_at, e.type, l.slug, e.address_hash, e.source, e.consent_version, e.detail,
                   c.prev_hash, c.hash
            FROM events e LEFT JOIN lists l ON l.id = e.list_id LEFT JOIN event_chain c ON c.event_id = e.id
            \(filter)
            ORDER BY e.id
            """)
        try statement.setArguments(arguments)
        let rows = try Self.stepRows(statement, in: db) { row, count in
            try writer.integer(sqlite3_column_int64(row, 0))
            for column in 1...6 { try writer.text(Self.text(row, Int32(column))) }
            try writer.json(Self.text(row, 7))
            try writer.text(Self.text(row, 8))
            try writer.text(Self.text(row, 9))
            try writer.endRow()
            if count % Self.progressEvery == 0 { progress(TransferProgress(rows: count, totalRows: total)) }
        }
        try writer.finish()
        progress(TransferProgress(rows: rows, totalRows: total))
        return rows
    }

    /// Steps `statement` to the end, calling `body` with the current row and the number
    /// of rows so far (1-based). Returns the number of rows.
    private static func stepRows(
        _ statement: Statement, in db: Database, _ body: (SQLiteStatement, Int) throws -> Void
    ) throws -> Int {
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        var count = 0
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return count }
            guard code == SQLITE_ROW else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code),
                    message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) })
            }
            count += 1
            try body(handle, count)
        }
    }

    /// A text column's bytes, valid until the next step; nil for NULL.
    @inline(__always)
    private static func text(_ row: SQLiteStatement, _ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard sqlite3_column_type(row, column) != SQLITE_NULL, let bytes = sqlite3_column_text(row, column) else {
            return nil
        }
        return UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(row, column)))
    }
}
