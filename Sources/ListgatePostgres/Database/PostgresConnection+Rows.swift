// Small readers over postgres-nio's row sequences, so the rooms' code reads as the query
// and what it returns: one value, one row, every row.
import Foundation
import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement whose rows, if any, are not wanted.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await self.query(query, logger: Self.quiet).collect()
    }

    /// The first column of the first row, or nil when there is no row (or it is NULL).
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) async throws -> T? {
        for try await row in try await self.query(query, logger: Self.quiet) {
            let cell = row.makeRandomAccess()[0]
            return cell.bytes == nil ? nil : try cell.decode(T.self)
        }
        return nil
    }

    /// Every row, random access by column name.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: Self.quiet).collect().map { $0.makeRandomAccess() }
    }

    /// Every row of a bounded query (a page), gathered on the connection's event loop and
    /// handed over at once: no task switch per row, which on a million rows costs more
    /// than reading them.
    func page(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let answer: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: Self.quiet)
        return try await answer.get().rows
    }

    /// The first row, or nil.
    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
        for try await row in try await self.query(query, logger: Self.quiet) {
            return row.makeRandomAccess()
        }
        return nil
    }

    /// Statements are logged at debug by postgres-nio; listgate never logs queries (they
    /// carry addresses), so the rooms' queries go to a logger that drops them.
    static let quiet = Logger(label: "listgate.postgres.query", factory: { _ in SwiftLogNoOpLogHandler() })
}

extension PostgresRandomAccessRow {
    /// The column `name` decoded as `T` (an optional type for a nullable column).
    func get<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self)
    }
}

extension Date {
    /// To the millisecond, as Timestamp.string shows it: a date bound to a query is
    /// stored as it is answered and read back. (postgres-nio sends a Date as whole
    /// microseconds, truncated: .123 may be stored as .122999. Timestamp.string rounds it
    /// back to .123; SQL that compares stored times with each other rounds to the
    /// millisecond first, as the departures feed's keyset does.)
    var stored: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000) }
}
