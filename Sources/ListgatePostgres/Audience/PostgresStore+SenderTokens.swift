// Sender API tokens on PostgreSQL (SenderTokenStore): digests only, one list each, with
// their scopes; every creation and revocation recorded, as ListgateSQLite's
// (Audience/SQLiteStore+SenderTokens.swift).
//
// `senderAccess` reads the token from the database on every request, with no cache: a
// token revoked through one server is refused by every server from the next request on.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore: SenderTokenStore {
    public func createSenderToken(
        list slug: ListSlug, name: String?, scopes: [SenderScope], secret: String, source: EventSource
    ) async throws -> String {
        let scopes = SenderScope.stored(scopes.isEmpty ? [.audienceRead] : scopes)
        let digest = SenderTokenSecret.digest(secret)
        let now = Date()
        return try await write { connection in
            guard let listID = try await connection.value("SELECT id FROM lists WHERE slug = \(slug.rawValue)", as: Int64.self)
            else { throw DomainError.listNotFound(slug.rawValue) }
            let id = RandomToken.hex(bytes: 8)
            try await connection.execute("""
                INSERT INTO api_tokens (public_id, list_id, name, scopes, token_sha256, created_at)
                VALUES (\(id), \(listID), \(name), \(scopes), \(digest), \(now.stored))
                """)
            try await PostgresLedger.append(
                NewEvent(.tokenCreated, listID: listID, source: source, detail: ["token_id": id, "scopes": scopes]),
                at: now, on: connection)
            return id
        }
    }

    public func senderTokens() async throws -> [SenderToken] {
        try await read { connection in
            try await connection.rows("""
                SELECT t.public_id, l.slug, t.name, t.scopes, t.created_at, t.last_used_at, t.revoked_at
                FROM api_tokens t JOIN lists l ON l.id = t.list_id ORDER BY t.created_at, t.public_id COLLATE "C"
                """
            ).map { row in
                SenderToken(
                    id: try row.get("public_id"), listSlug: try row.get("slug"), name: try row.get("name"),
                    scopes: try Self.scopes(try row.get("scopes")), createdAt: try row.get("created_at"),
                    lastUsedAt: try row.get("last_used_at"), revokedAt: try row.get("revoked_at"))
            }
        }
    }

    public func revokeSenderToken(id: String, source: EventSource) async throws {
        let now = Date()
        try await write { connection in
            guard let row = try await connection.row("SELECT list_id, revoked_at FROM api_tokens WHERE public_id = \(id)")
            else { throw SenderTokenError.unknown(id) }
            guard try row.get("revoked_at", as: Date?.self) == nil else { throw SenderTokenError.alreadyRevoked(id) }
            try await connection.execute("UPDATE api_tokens SET revoked_at = \(now.stored) WHERE public_id = \(id)")
            try await PostgresLedger.append(
                NewEvent(.tokenRevoked, listID: try row.get("list_id", as: Int64.self), source: source, detail: ["token_id": id]),
                at: now, on: connection)
        }
    }

    public func senderAccess(token: String) async throws -> SenderAccess? {
        let digest = SenderTokenSecret.digest(token)
        let found: (id: String, digest: String, listID: Int64, slug: String, scopes: [SenderScope])? = try await read { connection in
            guard let row = try await connection.row("""
                SELECT t.public_id, t.token_sha256, t.list_id, l.slug, t.scopes FROM api_tokens t JOIN lists l ON l.id = t.list_id
                WHERE t.token_sha256 = \(digest) AND t.revoked_at IS NULL
                """)
            else { return nil }
            return (id: try row.get("public_id"), digest: try row.get("token_sha256"), listID: try row.get("list_id"),
                    slug: try row.get("slug"), scopes: try Self.scopes(try row.get("scopes")))
        }
        guard let row = found else { return nil }
        // The lookup found the row by digest; compare again without an early exit so the
        // answer's timing does not depend on how much of a guess was right.
        guard SenderTokenSecret.constantTimeEqual(row.digest, digest) else { return nil }
        let id = row.id
        let now = Date()
        // Each use is recorded (never the token itself); at most once a minute per token.
        // READ COMMITTED: concurrent requests with one token only ever move the time on,
        // and must not fail each other as SERIALIZABLE would.
        try await readCommitted { connection in
            try await connection.execute("""
                UPDATE api_tokens SET last_used_at = \(now.stored)
                WHERE public_id = \(id) AND (last_used_at IS NULL OR last_used_at < \(now.addingTimeInterval(-60).stored))
                """)
        }
        return SenderAccess(tokenID: id, listID: row.listID, listSlug: row.slug, scopes: Set(row.scopes))
    }

    /// A token's stored scopes; anything listgate never writes is a loud error, not a guess.
    static func scopes(_ text: String) throws -> [SenderScope] {
        guard let scopes = SenderScope.parse(text) else { throw StoreError.unreadableValue(column: "api_tokens.scopes", text) }
        return scopes
    }
}
