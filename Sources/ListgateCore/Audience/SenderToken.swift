// Bearer tokens for the newsletter sender. A token reads exactly one list, and does there
// only what its scopes allow; only its SHA-256 is stored, so a leaked database does not
// leak working tokens.
import Crypto
import Foundation

/// What a token may do on its list, named as OAuth scopes are. A token without the scope
/// a route needs is refused (403 `insufficient_scope`), even on its own list.
public enum SenderScope: String, Sendable, CaseIterable, Comparable {
    /// Snapshots, the recipients stream and the unsubscribes feed: every token made before
    /// scopes existed, and the default.
    case audienceRead = "audience:read"
    /// Reporting bounces, complaints and unsubscribes (`POST /api/v1/lists/{slug}/feedback`).
    case feedbackWrite = "feedback:write"
    /// Approving snapshots.
    case audienceApprove = "audience:approve"

    public static func < (a: SenderScope, b: SenderScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Scopes as stored: known ones, each once, separated by single spaces, in this
    /// enum's order. nil for anything else (the schema refuses it too).
    public static func parse(_ text: String) -> [SenderScope]? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        let scopes = parts.compactMap { SenderScope(rawValue: String($0)) }
        guard !parts.isEmpty, scopes.count == parts.count, Set(scopes).count == scopes.count else { return nil }
        return scopes.sorted()
    }

    public static func stored(_ scopes: [SenderScope]) -> String {
        Set(scopes).sorted().map(\.rawValue).joined(separator: " ")
    }
}

public struct SenderToken: Sendable, Equatable {
    public let id: String
    public let listSlug: String
    public let name: String?
    public let scopes: [SenderScope]
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let revokedAt: Date?

    package init(
        id: String, listSlug: String, name: String?, scopes: [SenderScope], createdAt: Date, lastUsedAt: Date?,
        revokedAt: Date?
    ) {
        (self.id, self.listSlug, self.name, self.scopes, self.createdAt, self.lastUsedAt, self.revokedAt) =
            (id, listSlug, name, scopes, createdAt, lastUsedAt, revokedAt)
    }
}

/// What a valid token grants: its scopes on one list.
public struct SenderAccess: Sendable, Equatable {
    public let tokenID: String
    public let listID: Int64
    public let listSlug: String
    public let scopes: Set<SenderScope>

    package init(tokenID: String, listID: Int64, listSlug: String, scopes: Set<SenderScope>) {
        (self.tokenID, self.listID, self.listSlug, self.scopes) = (tokenID, listID, listSlug, scopes)
    }

    /// The ledger's source for what this token does: `api:TOKEN_ID`.
    public var source: EventSource { EventSource("api:\(tokenID)") }
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
    /// Stores the digest of a new token for `slug`, with its scopes; returns its public id.
    /// Records `token_created`.
    func createSenderToken(list slug: ListSlug, name: String?, scopes: [SenderScope], secret: String, source: EventSource)
        async throws -> String
    func senderTokens() async throws -> [SenderToken]
    /// Records `token_revoked`; revoking twice is an error naming the first time.
    func revokeSenderToken(id: String, source: EventSource) async throws
    /// The access a presented token grants, or nil (unknown or revoked).
    func senderAccess(token: String) async throws -> SenderAccess?
}

extension SenderTokenStore {
    /// A token with the default scope, `audience:read`.
    public func createSenderToken(list slug: ListSlug, name: String?, secret: String, source: EventSource) async throws
        -> String
    {
        try await createSenderToken(list: slug, name: name, scopes: [.audienceRead], secret: secret, source: source)
    }
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
