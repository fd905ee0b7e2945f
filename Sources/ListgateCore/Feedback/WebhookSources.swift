// Provider webhooks, the core's part: which providers listgate takes feedback from
// (`POST /webhooks/{provider}/{slug}`), what an operator configures for each list
// (`listgate webhooks inbound add`), and the store protocol that keeps it. How each
// provider signs and shapes its requests is HTTP-payload knowledge and lives in the
// server (Sources/ListgateServer/ProviderWebhooks/); this file holds no provider format.
import Crypto
import Foundation

/// A provider whose webhook listgate verifies and reads (README, "Provider webhooks").
public enum WebhookProvider: String, Sendable, CaseIterable, Codable {
    /// Amazon SES, through Amazon SNS notifications.
    case ses
    /// Twilio SendGrid's Event Webhook, signed (ECDSA P-256).
    case sendgrid
    /// Mailgun's webhooks, signed with HMAC-SHA256.
    case mailgun
    /// Postmark's webhooks, with HTTP Basic credentials in their URL.
    case postmark

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// What an operator adds: one provider for one list, and what verifies its requests.
/// Secrets are handed over in the clear here; the store keeps them hashed or encrypted.
public enum WebhookSourceSetting: Sendable, Equatable {
    /// `topicARN`: when set, notifications of any other topic are refused.
    case ses(topicARN: String?)
    /// The Event Webhook's verification key as SendGrid shows it: base64 DER (SPKI).
    case sendgrid(publicKey: String)
    /// The HTTP webhook signing key (stored encrypted: it must be usable for HMAC).
    case mailgun(signingKey: String)
    /// The Basic credentials put in the webhook URL (the password is stored hashed).
    case postmark(username: String, password: String)

    public var provider: WebhookProvider {
        switch self {
        case .ses: .ses
        case .sendgrid: .sendgrid
        case .mailgun: .mailgun
        case .postmark: .postmark
        }
    }
}

/// A configured source as `webhooks inbound list` shows it: never a secret.
public struct WebhookSource: Sendable, Equatable {
    public let id: String
    public let provider: WebhookProvider
    public let listSlug: String
    public let createdAt: Date
    /// SES: the topic it is limited to; Postmark: the user name. Neither is secret.
    public let topicARN: String?
    public let username: String?

    package init(id: String, provider: WebhookProvider, listSlug: String, createdAt: Date, topicARN: String?, username: String?) {
        (self.id, self.provider, self.listSlug, self.createdAt, self.topicARN, self.username) =
            (id, provider, listSlug, createdAt, topicARN, username)
    }
}

/// What the webhook route needs to verify one request: the source's id and list, and
/// its verification material (the Mailgun key decrypted; the Postmark password only as
/// its salted hash).
public struct WebhookVerifier: Sendable, Equatable {
    public let sourceID: String
    public let listSlug: ListSlug
    public let material: Material

    public enum Material: Sendable, Equatable {
        case ses(topicARN: String?)
        case sendgrid(publicKey: String)
        case mailgun(signingKey: String)
        case postmark(username: String, password: WebhookPasswordHash)
    }

    package init(sourceID: String, listSlug: ListSlug, material: Material) {
        (self.sourceID, self.listSlug, self.material) = (sourceID, listSlug, material)
    }
}

/// A Postmark password as stored: SHA-256 over a random salt and the password. The
/// password is either generated (256 bits) or an operator's of at least
/// `WebhookPasswordHash.minimumLength` characters, so a fast hash is enough, and a
/// request's check costs no more than a hash (docs/security.md).
public struct WebhookPasswordHash: Sendable, Equatable {
    public let salt: String
    public let sha256: String

    public static let minimumLength = 16

    package init(salt: String, sha256: String) {
        (self.salt, self.sha256) = (salt, sha256)
    }

    /// A fresh salt and the hash of `password` under it.
    public static func make(_ password: String) -> WebhookPasswordHash {
        let salt = RandomToken.hex(bytes: 16)
        return WebhookPasswordHash(salt: salt, sha256: digest(password, salt: salt))
    }

    /// Whether `password` is the one hashed, compared without an early exit.
    public func matches(_ password: String) -> Bool {
        SenderTokenSecret.constantTimeEqual(Self.digest(password, salt: salt), sha256)
    }

    static func digest(_ password: String, salt: String) -> String {
        SHA256.hex(Data((salt + ":" + password).utf8))
    }
}

/// A password for Postmark's webhook URL when the operator gives none: 256 bits,
/// URL-safe, so it can sit in `https://user:password@host/…` as it is.
public enum WebhookSourcePassword {
    public static func generate() -> String { Base64URL.encode(RandomToken.bytes(32)) }
}

public protocol WebhookSourceStore: Sendable {
    /// Adds the source and records `webhook_source_added` (provider and id; never a
    /// secret). One source per provider and list: a second is an error.
    func addWebhookSource(list slug: ListSlug, setting: WebhookSourceSetting, source: EventSource) async throws -> WebhookSource
    func webhookSources() async throws -> [WebhookSource]
    /// Deletes the source and its secrets; records `webhook_source_removed`.
    func removeWebhookSource(id: String, source: EventSource) async throws
    /// The verifier for `provider` on the list named `slug`, or nil when there is none.
    func webhookVerifier(provider: WebhookProvider, list slug: ListSlug) async throws -> WebhookVerifier?
    /// Claims a one-time value a provider signed (Mailgun's token) for a source: false
    /// when it was claimed before, i.e. the request is a replay. Claims older than
    /// `forgetBefore` are dropped first (a request that old is refused as stale anyway).
    func claimWebhookNonce(_ nonce: String, sourceID: String, at now: Date, forgetBefore: Date) async throws -> Bool
    /// Gives a claim back when what the request carried could not be applied, so the
    /// provider's retry of the same request is not taken for a replay.
    func releaseWebhookNonce(_ nonce: String, sourceID: String) async throws
}

public enum WebhookSourceError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknown(String)
    case duplicate(provider: WebhookProvider, list: String, id: String)

    public var description: String {
        switch self {
        case .unknown(let id):
            "no inbound webhook with id '\(id.printable)'"
        case .duplicate(let provider, let list, let id):
            "list '\(list)' already takes \(provider.rawValue) webhooks (id \(id)); remove it first to replace it"
        }
    }
}

/// Fetches one URL with GET: the SNS signing certificate and the SNS subscription
/// confirmation. Declared here so the server can be handed one without linking
/// libcurl itself (ListgateMail's `CurlURLFetch` is the real one). The caller decides
/// which URLs may be fetched at all; an implementation follows no redirect and bounds
/// the time and the size of the answer.
public protocol URLFetching: Sendable {
    func get(_ url: String) async throws -> FetchedDocument
}

public struct FetchedDocument: Sendable, Equatable {
    public let status: Int
    public let body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}
