// Sender API tokens: digests only, one list each, with their scopes; every creation and
// revocation recorded.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    public func createSenderToken(
        list slug: ListSlug, name: String?, scopes: [SenderScope], secret: String, source: EventSource
    ) async throws -> String {
        let scopes = SenderScope.stored(scopes.isEmpty ? [.audienceRead] : scopes)
        return try await pool.write { db in
            guard let listID = try Int64.fetchOne(db, sql: "SELECT id FROM lists WHERE slug = ?", arguments: [slug.rawValue]) else {
                throw DomainError.listNotFound(slug.rawValue)
            }
            let id = RandomToken.hex(bytes: 8)
            let now = Date()
            try db.execute(
                sql: """
                    INSERT INTO api_tokens (public_id, list_id, name, scopes, token_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, listID, name, scopes, SenderTokenSecret.digest(secret), Timestamp.string(now)])
            try EventLedger.append(
                NewEvent(.tokenCreated, listID: listID, source: source, detail: ["token_id": id, "scopes": scopes]),
                at: now, in: db)
            return id
        }
    }

    public func senderTokens() async throws -> [SenderToken] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.public_id, l.slug, t.name, t.scopes, t.created_at, t.last_used_at, t.revoked_at
                FROM api_tokens t JOIN lists l ON l.id = t.list_id ORDER BY t.created_at, t.public_id
                """
            ).map {
                SenderToken(
                    id: $0["public_id"], listSlug: $0["slug"], name: $0["name"], scopes: try Self.scopes($0["scopes"]),
                    createdAt: Timestamp.parse($0["created_at"]) ?? Date(timeIntervalSince1970: 0),
                    lastUsedAt: ($0["last_used_at"] as String?).flatMap(Timestamp.parse),
                    revokedAt: ($0["revoked_at"] as String?).flatMap(Timestamp.parse))
            }
        }
    }

    public func revokeSenderToken(id: String, source: EventSource) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT list_id, revoked_at FROM api_tokens WHERE public_id = ?", arguments: [id])
            else { throw SenderTokenError.unknown(id) }
            guard (row["revoked_at"] as String?) == nil else { throw SenderTokenError.alreadyRevoked(id) }
            let now = Date()
            try db.execute(
                sql: "UPDATE api_tokens SET revoked_at = ? WHERE public_id = ?", arguments: [Timestamp.string(now), id])
            try EventLedger.append(
                NewEvent(.tokenRevoked, listID: row["list_id"], source: source, detail: ["token_id": id]), at: now, in: db)
        }
    }

    public func senderAccess(token: String) async throws -> SenderAccess? {
        let digest = SenderTokenSecret.digest(token)
        // Plain values out of the read: `Row` is not Sendable.
        let found: (id: String, digest: String, listID: Int64, slug: String, scopes: [SenderScope])? = try await pool.read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT t.public_id, t.token_sha256, t.list_id, l.slug, t.scopes FROM api_tokens t JOIN lists l ON l.id = t.list_id
                WHERE t.token_sha256 = ? AND t.revoked_at IS NULL
                """)
            return try Row.fetchOne(statement, arguments: [digest]).map {
                (id: $0["public_id"], digest: $0["token_sha256"], listID: $0["list_id"], slug: $0["slug"],
                 scopes: try Self.scopes($0["scopes"]))
            }
        }
        guard let row = found else { return nil }
        // The lookup found the row by digest; compare again without an early exit so the
        // answer's timing does not depend on how much of a guess was right.
        guard SenderTokenSecret.constantTimeEqual(row.digest, digest) else { return nil }
        let id = row.id
        // Each use is recorded (never the token itself); at most once a minute per token.
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE api_tokens SET last_used_at = ? WHERE public_id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                arguments: [Timestamp.string(Date()), id, Timestamp.string(Date().addingTimeInterval(-60))])
        }
        return SenderAccess(tokenID: id, listID: row.listID, listSlug: row.slug, scopes: Set(row.scopes))
    }

    /// A token's stored scopes; anything listgate never writes is a loud error, not a guess.
    static func scopes(_ text: String) throws -> [SenderScope] {
        guard let scopes = SenderScope.parse(text) else { throw StoreError.unreadableValue(column: "api_tokens.scopes", text) }
        return scopes
    }
}
