// Recorded form posts on PostgreSQL (FormRequest.swift): the front door's one write, and
// the desk's queue, as ListgateSQLite's SQLiteStore+FormRequests.swift. Recording reads
// nothing about the address, so it costs the same for every address.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore {
    public func recordFormRequest(
        kind: FormRequestKind, list: MailingList, address: EmailAddress, name: String?, origin: RequestOrigin, at date: Date
    ) async throws {
        // One INSERT that reads nothing: atomic by itself and in no conflict with anything,
        // so it runs outside a transaction, one round trip on the busiest write.
        try await statement { connection in
            try await connection.execute("""
                INSERT INTO form_requests (kind, list_id, email, identity_key, name, route, client_network, user_agent,
                                           received_at)
                VALUES (\(kind.rawValue), \(list.id), \(address.entered), \(address.identityKey), \(name), \(origin.route),
                        \(origin.clientNetwork), \(origin.userAgent), \(date.stored))
                """)
        }
    }

    public func pendingFormRequests(limit: Int) async throws -> [FormRequest] {
        try await read { connection in
            try await connection.rows("""
                SELECT r.id, r.kind, r.email, r.name, r.route, r.client_network, r.user_agent, r.received_at, l.slug
                FROM form_requests r JOIN lists l ON l.id = r.list_id
                ORDER BY r.id LIMIT \(Int64(limit))
                """
            ).map { row in
                guard let kind = FormRequestKind(rawValue: try row.get("kind", as: String.self)) else {
                    throw StoreError.unreadableValue(column: "form_requests.kind", try row.get("kind", as: String.self))
                }
                return FormRequest(
                    id: try row.get("id"), kind: kind, listSlug: try row.get("slug"), email: try row.get("email"),
                    name: try row.get("name"),
                    origin: RequestOrigin(
                        route: try row.get("route"), clientNetwork: try row.get("client_network"),
                        userAgent: try row.get("user_agent")),
                    receivedAt: try row.get("received_at"))
            }
        }
    }

    public func discardFormRequest(id: Int64) async throws {
        try await write { connection in
            try await connection.execute("DELETE FROM form_requests WHERE id = \(id)")
        }
    }

    public func noteFormRequestFailure(id: Int64) async throws -> Int {
        try await write { connection in
            Int(try await connection.value(
                "UPDATE form_requests SET attempts = attempts + 1 WHERE id = \(id) RETURNING attempts::bigint",
                as: Int64.self) ?? 0)
        }
    }

    /// Consumes a recorded post inside the transaction that decides it: false when
    /// another desk already did (the caller then changes nothing).
    static func consumeFormRequest(_ id: Int64?, on connection: PostgresConnection) async throws -> Bool {
        guard let id else { return true }
        return try await connection.rows("DELETE FROM form_requests WHERE id = \(id) RETURNING id").count == 1
    }
}
