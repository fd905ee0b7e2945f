// `listgate export` on PostgreSQL, as ListgateSQLite's (DataTransfer/SQLiteStore+Export.swift):
// the same columns, order and bytes. Each export runs in one REPEATABLE READ, READ ONLY
// transaction, so it sees one consistent moment while the servers keep writing; rows come
// through postgres-nio's backpressured row sequence and each cell's bytes go straight into
// the output buffer, so a million rows stream in constant memory. Times are formatted by
// the query as SQLite stores them. The events export is written by the helper it shares
// with `subscribers export-events` (Membership/PostgresStore+Person.swift).
import Foundation
import ListgateCore
import Logging
import PostgresNIO

extension PostgresStore {
    private static let subscriberExportColumns = ["list", "email", "name", "status", "subscribed_at", "unsubscribed_at", "source"]
    private static let exportProgressEvery = 16_384

    public func exportSubscribers(
        list: ListSlug, status: ExportStatusFilter, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        let activeOnly = status == .active
        return try await read { connection in
            let listID = try await Self.exportListID(list, on: connection)
            let total = Int(try await connection.value("""
                SELECT count(*) FROM subscriptions s WHERE s.list_id = \(listID) AND (NOT \(activeOnly) OR s.status = 'active')
                """, as: Int64.self) ?? 0)
            let writer = try TabularWriter(format: format, columns: Self.subscriberExportColumns, destination: destination)
            // In address order, which the list's index (list_id, status, address_id) holds
            // for the active ones; as on SQLite.
            let rows = try await connection.query("""
                SELECT a.email, s.name, s.status, \(unescaped: StoredTime.text("s.subscribed_at")),
                       \(unescaped: StoredTime.text("s.unsubscribed_at")), s.source
                FROM subscriptions s JOIN addresses a ON a.id = s.address_id
                WHERE s.list_id = \(listID) AND (NOT \(activeOnly) OR s.status = 'active')
                ORDER BY s.address_id
                """, logger: PostgresConnection.quiet)
            var slug = list.rawValue
            var cells = RowBytes()
            var count = 0
            for try await row in rows {
                cells.load(row)
                count += 1
                try slug.withUTF8 { slugBytes in
                    try cells.withCells { column in
                        try writer.text(slugBytes)
                        for index in 0..<6 { try writer.text(column(index)) }
                    }
                }
                try writer.endRow()
                if count % Self.exportProgressEvery == 0 { progress(TransferProgress(rows: count, totalRows: total)) }
            }
            try writer.finish()
            progress(TransferProgress(rows: count, totalRows: total))
            return count
        }
    }

    /// Written by the events export that `subscribers export-events` shares
    /// (Membership/PostgresStore+Person.swift, `writeEvents`).
    public func exportEvents(
        list: ListSlug?, since: Date?, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        try await read { connection in
            var binds = PostgresBindings()
            var conditions: [String] = []
            if let list {
                binds.append(try await Self.exportListID(list, on: connection))
                conditions.append("e.list_id = $\(binds.count)")
            }
            if let since {
                // As its text, cast: exactly the millisecond SQLite compares with.
                binds.append(Timestamp.string(since))
                conditions.append("e.occurred_at >= $\(binds.count)::timestamptz")
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try await Self.writeEvents(
                count: "SELECT count(*) FROM events e \(filter)", rows: "\(Self.eventExportSelect) \(filter) ORDER BY e.id",
                binds: binds, format: format, to: destination, progress: progress, on: connection)
        }
    }

    private static func exportListID(_ slug: ListSlug, on connection: PostgresConnection) async throws -> Int64 {
        guard let id = try await connection.value("SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self)
        else { throw DomainError.listNotFound(slug.rawValue) }
        return id
    }
}
