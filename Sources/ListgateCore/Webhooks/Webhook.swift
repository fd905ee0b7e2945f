// Outbound webhooks' vocabulary: the kinds of change a receiver can ask for, a receiver's
// URL (only http and https, with a host), its signing secret, and what `listgate webhooks`
// shows. README, "Receiving webhooks", is the receiver's side of the contract.
import Foundation

/// What a receiver is told about. Several ledger events map onto one kind (the trigger in
/// Migrations/0014_outbound_webhooks.sql): `confirmed`, `resubscribed` and an admin's active
/// `subscriber_added` are `subscribed`; the rest keep their event's name.
public enum WebhookEventType: String, Sendable, Codable, CaseIterable, Comparable {
    case subscribed, unsubscribed, bounced, complained, blocked, forgotten

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public static var accepted: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A receiver's address: `http` or `https`, a host, no credentials (they would be stored
/// and shown in the clear; the signature is how a receiver knows the sender).
public struct WebhookURL: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    /// Lower-cased; what the ledger keeps of the URL.
    public let host: String

    public init(_ text: String) throws(WebhookError) {
        guard text.count <= 2000 else { throw .invalidURL(text, reason: "it is longer than 2,000 characters") }
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw .invalidURL(text, reason: "it contains spaces or control characters")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw .invalidURL(text, reason: "it is not a URL")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .invalidURL(text, reason: "only http:// and https:// are accepted")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL(text, reason: "it names no host") }
        guard components.user == nil, components.password == nil else {
            throw .invalidURL(text, reason: "credentials in the URL would be stored in the clear; receivers verify the signature instead")
        }
        // The stored form starts with the scheme in lower case, as the schema's CHECK reads it.
        rawValue = scheme + text.dropFirst(scheme.count)
        self.host = host.lowercased()
    }

    public var description: String { rawValue }
}

/// A signing secret in the Standard Webhooks form: `whsec_` and the base64 of its bytes.
/// The bytes are the HMAC key; the text is shown once, when the webhook is added.
public struct WebhookSecret: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// 24 random bytes (192 bits), within the 24–64 the Standard Webhooks libraries accept.
    public static func generate() -> WebhookSecret { WebhookSecret(bytes: RandomToken.bytes(24)) }

    public init?(text: String) {
        guard text.hasPrefix("whsec_"), let data = Data(base64Encoded: String(text.dropFirst(6))), !data.isEmpty else {
            return nil
        }
        bytes = Array(data)
    }

    public var text: String { "whsec_" + Data(bytes).base64EncodedString() }
}

public struct NewWebhook: Sendable {
    public var list: ListSlug
    public var url: WebhookURL
    public var types: Set<WebhookEventType>

    public init(list: ListSlug, url: WebhookURL, types: Set<WebhookEventType> = Set(WebhookEventType.allCases)) {
        self.list = list
        self.url = url
        self.types = types.isEmpty ? Set(WebhookEventType.allCases) : types
    }
}

/// A receiver as `webhooks list` shows it: never its secret.
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var listSlug: String
    public var url: String
    public var types: [WebhookEventType]
    public var createdAt: Date
    public var removedAt: Date?
    public var pending: Int
    public var failed: Int

    public init(
        id: String, listSlug: String, url: String, types: [WebhookEventType], createdAt: Date, removedAt: Date?,
        pending: Int, failed: Int
    ) {
        self.id = id
        self.listSlug = listSlug
        self.url = url
        self.types = types
        self.createdAt = createdAt
        self.removedAt = removedAt
        self.pending = pending
        self.failed = failed
    }
}

public enum WebhookError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String, reason: String)
    case unknownEventType(String)
    case unknownWebhook(String)
    case unknownDelivery(String)
    case alreadyDelivered(String)
    case webhookRemoved(String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid webhook URL '\(url.printable)': \(reason)"
        case .unknownEventType(let type): "unknown event type '\(type.printable)': use \(WebhookEventType.accepted)"
        case .unknownWebhook(let id): "no webhook '\(id.printable)' (see listgate webhooks list)"
        case .unknownDelivery(let id): "no delivery '\(id.printable)' (see listgate webhooks deliveries)"
        case .alreadyDelivered(let id): "delivery \(id) was already delivered"
        case .webhookRemoved(let id): "the webhook of this delivery, \(id), was removed"
        }
    }
}
