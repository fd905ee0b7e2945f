// Bearer tokens for the newsletter sender. A token reads exactly one list; only its
// SHA-256 is stored, so a leaked database does not leak working tokens.
import Crypto
import Foundation

public struct SenderToken: Sendable, Equatable {
    public let id: String
    public let listSlug: String
    public let name: String?
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let revokedAt: Date?

    package init(id: String, listSlug: String, name: String?, createdAt: Date, lastUsedAt: Date?, revokedAt: Date?) {
        (self.id, self.listSlug, self.name, self.createdAt, self.lastUsedAt, self.revokedAt) =
            (id, listSlug, name, createdAt, lastUsedAt, revokedAt)
    }
}

/// What a valid token grants: reading one list.
public struct SenderAccess: Sendable, Equatable {
    public let tokenID: String
    public let listID: Int64
    public let listSlug: String

    package init(tokenID: String, listID: Int64, listSlug: String) {
        (self.tokenID, self.listID, self.listSlug) = (tokenID, listID, listSlug)
    }
}

public enum SenderTokenSecret {
    /// `lgt_` + 256 random bits, URL-safe: recognisable in logs and secret scanners.
    public static func generate() -> String { "lgt_" + Base64URL.encode(RandomToken.bytes(32)) }

    public static func digest(_ token: String) -> String { SHA256.hex(Data(token.utf8)) }

    /// Equal-length hex digests compared without an early exit.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

public protocol SenderTokenStore: Sendable {
    /// Stores the digest of a new token for `slug`; returns its public id. Records `token_created`.
    func createSenderToken(list slug: ListSlug, name: String?, secret: String, source: EventSource) async throws -> String
    func senderTokens() async throws -> [SenderToken]
    /// Records `token_revoked`; revoking twice is an error naming the first time.
    func revokeSenderToken(id: String, source: EventSource) async throws
    /// The access a presented token grants, or nil (unknown or revoked).
    func senderAccess(token: String) async throws -> SenderAccess?
}

public enum SenderTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknown(String)
    case alreadyRevoked(String)

    public var description: String {
        switch self {
        case .unknown(let id): "no sender token with id '\(id.printable)'"
        case .alreadyRevoked(let id): "sender token '\(id.printable)' is already revoked"
        }
    }
}
