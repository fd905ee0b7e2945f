// `listgate export` on PostgreSQL, as ListgateSQLite's (DataTransfer/SQLiteStore+Export.swift):
// the same columns, order and bytes. Each export runs in one REPEATABLE READ, READ ONLY
// transaction, so it sees one consistent moment while the servers keep writing; rows come
// through postgres-nio's backpressured row sequence and each cell's bytes go straight into
// the output buffer, so a million rows stream in constant memory. Times are formatted by
// the query as SQLite stores them.
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
        return try await longRead { connection in
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

    public func exportEvents(
        list: ListSlug?, since: Date?, format: DataFormat, to destination: ExportDestination,
        progress: @escaping @Sendable (TransferProgress) -> Void
    ) async throws -> Int {
        try await longRead { connection in
            var listID: Int64?
            if let list { listID = try await Self.exportListID(list, on: connection) }
            let since = since?.stored
            let total = Int(try await connection.value("""
                SELECT count(*) FROM events e
                WHERE (\(listID)::bigint IS NULL OR e.list_id = \(listID)) AND (\(since)::timestamptz IS NULL OR e.occurred_at >= \(since))
                """, as: Int64.self) ?? 0)
            let writer = try TabularWriter(format: format, columns: Self.eventExportColumns, destination: destination)
            let rows = try await connection.query("""
                SELECT e.id::text, \(unescaped: StoredTime.text("e.occurred_at")), e.type, l.slug, e.address_hash, e.source,
                       e.consent_version, e.detail, c.prev_hash, c.hash
                FROM events e LEFT JOIN lists l ON l.id = e.list_id LEFT JOIN event_chain c ON c.event_id = e.id
                WHERE (\(listID)::bigint IS NULL OR e.list_id = \(listID)) AND (\(since)::timestamptz IS NULL OR e.occurred_at >= \(since))
                ORDER BY e.id
                """, logger: PostgresConnection.quiet)
            var cells = RowBytes()
            var count = 0
            for try await row in rows {
                cells.load(row)
                count += 1
                try cells.withCells { column in
                    // The id as a number, as SQLite's writer.integer writes it.
                    try writer.integer(Int64(String(decoding: column(0)!, as: UTF8.self)) ?? 0)
                    for index in 1...6 { try writer.text(column(index)) }
                    try writer.json(column(7))
                    try writer.text(column(8))
                    try writer.text(column(9))
                }
                try writer.endRow()
                if count % Self.exportProgressEvery == 0 { progress(TransferProgress(rows: count, totalRows: total)) }
            }
            try writer.finish()
            progress(TransferProgress(rows: count, totalRows: total))
            return count
        }
    }

    private static func exportListID(_ slug: ListSlug, on connection: PostgresConnection) async throws -> Int64 {
        guard let id = try await connection.value("SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self)
        else { throw DomainError.listNotFound(slug.rawValue) }
        return id
    }
}
