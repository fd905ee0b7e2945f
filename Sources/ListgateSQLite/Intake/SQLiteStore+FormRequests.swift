// Recorded form posts (FormRequest.swift): the front door's one write, and the desk's
// queue. Recording reads nothing about the address, so it costs the same for every
// address (it shares group commits with other posts, and the writer with the desk).
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func recordFormRequest(
        kind: FormRequestKind, list: MailingList, address: EmailAddress, name: String?, origin: RequestOrigin, at date: Date
    ) async throws {
        try await intakeCommits.write { db in
            try db.cachedStatement(sql: """
                    INSERT INTO form_requests (kind, list_id, email, identity_key, name, route, client_network, user_agent,
                                               received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [
                    kind.rawValue, list.id, address.entered, address.identityKey, name, origin.route,
                    origin.clientNetwork, origin.userAgent, Timestamp.string(date),
                ])
        }
    }

    public func pendingFormRequests(limit: Int) async throws -> [FormRequest] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT r.*, l.slug FROM form_requests r JOIN lists l ON l.id = r.list_id
                    ORDER BY r.id LIMIT ?
                    """),
                arguments: [limit]
            ).map { row in
                guard let kind = FormRequestKind(rawValue: row["kind"]), let received = Timestamp.parse(row["received_at"]) else {
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "form_requests row with an unknown kind or time")
                }
                return FormRequest(
                    id: row["id"], kind: kind, listSlug: row["slug"], email: row["email"], name: row["name"],
                    origin: RequestOrigin(route: row["route"], clientNetwork: row["client_network"], userAgent: row["user_agent"]),
                    receivedAt: received)
            }
        }
    }

    public func discardFormRequest(id: Int64) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "DELETE FROM form_requests WHERE id = ?").execute(arguments: [id])
        }
    }

    public func noteFormRequestFailure(id: Int64) async throws -> Int {
        try await pool.write { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "UPDATE form_requests SET attempts = attempts + 1 WHERE id = ? RETURNING attempts"),
                arguments: [id]) ?? 0
        }
    }

    /// Consumes a recorded post inside the transaction that decides it: false when
    /// another desk already did (the caller then changes nothing).
    static func consumeFormRequest(_ id: Int64?, in db: Database) throws -> Bool {
        guard let id else { return true }
        try db.cachedStatement(sql: "DELETE FROM form_requests WHERE id = ?").execute(arguments: [id])
        return db.changesCount == 1
    }
}
