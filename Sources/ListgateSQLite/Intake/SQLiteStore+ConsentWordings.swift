// The consent wording archive (Migrations/0008_consent_wordings.sql): written once per
// version, in the transaction of the first request that names it; read by
// `listgate consent show` and `listgate subscribers export`.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    /// Stores the wording unless its version is already there. The lookup comes first so
    /// that every later request (the usual case) costs one index probe, not a copy of the
    /// texts.
    static func archive(_ wording: ConsentWording, firstUsedAt date: Date, in db: Database) throws {
        let known = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM consent_wordings WHERE version = ?"), arguments: [wording.version])
        guard known != true else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let parts = String(decoding: try encoder.encode(wording.parts), as: UTF8.self)
        try db.cachedStatement(sql: """
            INSERT INTO consent_wordings (version, locale, parts, first_used_at) VALUES (?, ?, ?, ?)
            """)
            .execute(arguments: [wording.version, wording.locale.rawValue, parts, Timestamp.string(date)])
    }

    public func consentVersion(_ version: String) async throws -> ConsentVersionLookup {
        try await pool.read { db in
            if let wording = try Self.archivedWording(version, in: db) { return .archived(wording) }
            // Versions recorded before the archive existed are still named by the ledger.
            if let first = try String.fetchOne(
                db.cachedStatement(sql: "SELECT min(occurred_at) FROM events WHERE consent_version = ?"), arguments: [version])
            {
                return .recordedWithoutWording(firstRecordedAt: Self.date(first))
            }
            return .unknown
        }
    }

    static func archivedWording(_ version: String, in db: Database) throws -> ArchivedWording? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT version, locale, parts, first_used_at FROM consent_wordings WHERE version = ?"),
            arguments: [version])
        else { return nil }
        let localeText: String = row["locale"]
        guard let locale = ListLocale(rawValue: localeText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown locale '\(localeText)' in consent_wordings")
        }
        let partsText: String = row["parts"]
        let parts = try JSONDecoder().decode([ConsentWording.Part].self, from: Data(partsText.utf8))
        return ArchivedWording(version: row["version"], locale: locale, parts: parts, firstUsedAt: date(row["first_used_at"]))
    }
}
