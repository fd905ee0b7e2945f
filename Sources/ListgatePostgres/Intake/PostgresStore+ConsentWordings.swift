// The consent wording archive on PostgreSQL, as ListgateSQLite's
// SQLiteStore+ConsentWordings.swift: written once per version, in the transaction of the
// first request that names it; read by `listgate consent show` and `subscribers export`.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore {
    /// Stores the wording unless its version is already there. Two first requests at
    /// once both insert; ON CONFLICT keeps the first one's row (the texts are the same:
    /// the version is their hash).
    static func archive(_ wording: ConsentWording, firstUsedAt date: Date, on connection: PostgresConnection) async throws {
        let known = try await connection.value(
            "SELECT 1::bigint FROM consent_wordings WHERE version = \(wording.version)", as: Int64.self)
        guard known == nil else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let parts = String(decoding: try encoder.encode(wording.parts), as: UTF8.self)
        try await connection.execute("""
            INSERT INTO consent_wordings (version, locale, parts, first_used_at)
            VALUES (\(wording.version), \(wording.locale.rawValue), \(parts), \(date.stored))
            ON CONFLICT (version) DO NOTHING
            """)
    }

    public func consentVersion(_ version: String) async throws -> ConsentVersionLookup {
        try await read { connection -> ConsentVersionLookup in
            if let wording = try await Self.archivedWording(version, on: connection) { return .archived(wording) }
            // Versions recorded before the archive existed are still named by the ledger.
            if let first = try await connection.value(
                "SELECT min(occurred_at) FROM events WHERE consent_version = \(version)", as: Date.self)
            {
                return .recordedWithoutWording(firstRecordedAt: first)
            }
            return .unknown
        }
    }

    static func archivedWording(_ version: String, on connection: PostgresConnection) async throws -> ArchivedWording? {
        guard let row = try await connection.row(
            "SELECT version, locale, parts, first_used_at FROM consent_wordings WHERE version = \(version)")
        else { return nil }
        let localeText = try row.get("locale", as: String.self)
        guard let locale = ListLocale(rawValue: localeText) else {
            throw StoreError.unreadableValue(column: "consent_wordings.locale", localeText)
        }
        let parts = try JSONDecoder().decode(
            [ConsentWording.Part].self, from: Data(try row.get("parts", as: String.self).utf8))
        return ArchivedWording(
            version: try row.get("version"), locale: locale, parts: parts, firstUsedAt: try row.get("first_used_at"))
    }
}
