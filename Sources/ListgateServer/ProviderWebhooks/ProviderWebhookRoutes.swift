// `POST /webhooks/{provider}/{slug}`: bounces and complaints as the senders' providers
// report them (README, "Provider webhooks"). Each request is checked in this order, and
// the first refusal answers: an unknown provider, or a list without that provider
// configured, is 404; a body over the provider's limit 413; a request that is not
// verified — a bad or missing signature, a signed time more than 5 minutes away from
// now, a replayed one-time token, wrong credentials — 401; a verified body that cannot be
// read 400. Only then are its events handed to the Feedback room with the source
// `webhook:PROVIDER`, which applies each provider event id once per list, so a
// provider's retry or a replay changes nothing twice. Nothing personal is logged.
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore
import Logging
import NIOCore

/// Hands verified events to the Feedback room (`Feedback.apply`).
public typealias FeedbackApplying = @Sendable ([FeedbackEvent], ListSlug, EventSource) async throws -> FeedbackOutcome

/// What the provider webhooks need besides the store: how to fetch an SNS certificate
/// or confirmation, and which origins other than `https://sns.<region>.amazonaws.com`
/// may serve them (tests only: LISTGATE_SES_CERT_HOSTS).
public struct ProviderWebhookConfiguration: Sendable {
    /// Origins as `scheme://host[:port]`, each trusted like an SNS host.
    public var extraSNSOrigins: [String] = []

    public init() {}
}

/// Body limits per provider. SendGrid posts its events in batches, so its limit is
/// larger; one SNS, Mailgun or Postmark request carries one event (or one SES mail).
enum ProviderWebhookLimits {
    static let bodyBytes: [String: Int] = [
        "/webhooks/ses/*": 1 << 20,
        "/webhooks/mailgun/*": 1 << 20,
        "/webhooks/postmark/*": 1 << 20,
        "/webhooks/sendgrid/*": 4 << 20,
    ]

    static func bodyBytes(for provider: WebhookProvider) -> Int {
        bodyBytes["/webhooks/\(provider.rawValue)/*"] ?? (1 << 20)
    }

    /// How far a signed time may be from now, either way.
    static let freshness: TimeInterval = 5 * 60
}

/// Why a provider request is refused. `unverified` and `stale` are 401, `malformed` 400,
/// `upstream` 502 (an SNS confirmation that could not be fetched: SNS sends it again).
enum ProviderRefusal: Error, Equatable {
    case unverified(String)
    case stale
    case malformed(String)
    case upstream(String)
}

/// What one verified request carried.
struct ProviderReading: Sendable {
    var events: [FeedbackEvent] = []
    /// Provider events that mean nothing to the policy (deliveries, opens, deferrals…).
    var ignored = 0
    /// A one-time value the provider signed (Mailgun's token), claimed before applying.
    var nonce: String?
}

/// A request as the provider parsers see it.
struct ProviderRequest: Sendable {
    let headers: HTTPFields
    let body: [UInt8]
    let now: Date

    /// Whether `time` is within the freshness window of now.
    func isFresh(_ time: Date) -> Bool {
        abs(time.timeIntervalSince(now)) <= ProviderWebhookLimits.freshness
    }

    /// The body as a JSON value, or `malformed`.
    func json() throws(ProviderRefusal) -> Any {
        guard let value = try? JSONSerialization.jsonObject(with: Data(body)) else { throw .malformed("the body is not JSON") }
        return value
    }
}

struct ProviderWebhookRoutes: Sendable {
    let store: any WebhookSourceStore
    let apply: FeedbackApplying
    let sns: SNSVerification

    init(store: any WebhookSourceStore, apply: @escaping FeedbackApplying, fetch: any URLFetching, configuration: ProviderWebhookConfiguration) {
        self.store = store
        self.apply = apply
        sns = SNSVerification(fetch: fetch, hosts: SNSHostRule(extraOrigins: configuration.extraSNSOrigins))
    }

    /// One route per provider (openapi.yaml documents each): any other provider is the
    /// router's own 404.
    func addRoutes(to router: Router<AppRequestContext>) {
        for provider in WebhookProvider.allCases {
            router.post("webhooks/\(provider.rawValue)/:slug") { request, context in try await receive(provider, request, context) }
        }
    }

    func receive(_ provider: WebhookProvider, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        var request = request
        guard let slug = try? ListSlug(context.parameters.require("slug")),
              let verifier = try await store.webhookVerifier(provider: provider, list: slug)
        else { throw Problem.webhookNotFound }
        let limit = ProviderWebhookLimits.bodyBytes(for: provider)
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: limit) } catch { throw Problem.webhookBodyTooLarge(limit) }
        let providerRequest = ProviderRequest(headers: request.headers, body: Array(buffer.readableBytesView), now: Date())

        let reading: ProviderReading
        do {
            reading = try await read(providerRequest, verifier: verifier)
        } catch {
            let refusal = error
            // Why, at debug only: an attacker's probe is not an operator's concern.
            context.logger.debug("provider webhook refused", metadata: [
                "provider": .string(provider.rawValue), "list": .string(slug.rawValue), "reason": .string("\(refusal)")])
            throw Problem.webhook(refusal, provider: provider)
        }
        if let nonce = reading.nonce {
            let now = providerRequest.now
            guard try await store.claimWebhookNonce(
                nonce, sourceID: verifier.sourceID, at: now, forgetBefore: now.addingTimeInterval(-2 * ProviderWebhookLimits.freshness))
            else { throw Problem.webhook(.unverified("this token was used before"), provider: provider) }
        }
        let outcome: FeedbackOutcome
        do {
            outcome = reading.events.isEmpty ? FeedbackOutcome() : try await apply(reading.events, slug, EventSource("webhook:\(provider.rawValue)"))
        } catch {
            // Nothing was applied: the provider's retry must not be taken for a replay.
            if let nonce = reading.nonce { try? await store.releaseWebhookNonce(nonce, sourceID: verifier.sourceID) }
            throw error
        }
        context.logger.info("provider webhook", metadata: [
            "provider": .string(provider.rawValue), "list": .string(slug.rawValue),
            "accepted": .stringConvertible(outcome.accepted), "duplicates": .stringConvertible(outcome.duplicates),
            "unknown": .stringConvertible(outcome.unknown), "invalid": .stringConvertible(outcome.invalid.count),
            "ignored": .stringConvertible(reading.ignored)])
        return JSONAnswer.body([
            "accepted": outcome.accepted, "duplicates": outcome.duplicates, "unknown": outcome.unknown,
            "invalid": outcome.invalid.count, "ignored": reading.ignored,
        ], code: .ok)
    }

    /// Verifies and reads one request with its provider's rules.
    func read(_ request: ProviderRequest, verifier: WebhookVerifier) async throws(ProviderRefusal) -> ProviderReading {
        switch verifier.material {
        case .ses(let topicARN):
            return try await sns.read(request, topicARN: topicARN)
        case .sendgrid(let publicKey):
            return try SendGridWebhook.read(request, publicKey: publicKey)
        case .mailgun(let signingKey):
            return try MailgunWebhook.read(request, signingKey: signingKey)
        case .postmark(let username, let password):
            return try PostmarkWebhook.read(request, username: username, password: password)
        }
    }
}

// MARK: Problems

extension Problem {
    static let webhookNotFound = Problem(
        .notFound, code: "webhook_not_found", message: "no such provider webhook for this list", page: nil)

    static func webhookBodyTooLarge(_ limit: Int) -> Problem {
        Problem(.contentTooLarge, code: "body_too_large", message: "the request body may be at most \(limit) bytes", page: nil)
    }

    static func webhook(_ refusal: ProviderRefusal, provider: WebhookProvider) -> Problem {
        switch refusal {
        case .unverified, .stale:
            // The reason stays in the debug log: a prober learns only that it failed.
            var problem = Problem(.unauthorized, code: "unverified", message: "the request could not be verified", page: nil)
            if provider == .postmark { problem.headers[.wwwAuthenticate] = #"Basic realm="listgate""# }
            return problem
        case .malformed(let reason):
            return Problem(.badRequest, code: "malformed_body", message: reason, page: nil)
        case .upstream(let reason):
            return Problem(.badGateway, code: "confirmation_failed", message: reason, page: nil)
        }
    }
}

// MARK: Reading JSON

/// Small accessors for the providers' JSON objects: a field of the wrong type reads as
/// absent, never as a default value.
extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String? { self[key] as? String }
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func objects(_ key: String) -> [[String: Any]]? { self[key] as? [[String: Any]] }
    func bool(_ key: String) -> Bool? { self[key] as? Bool }

    /// A number, or a string holding one (providers write ids and times either way).
    func number(_ key: String) -> Double? {
        if let text = self[key] as? String { return Double(text) }
        return self[key] as? Double
    }

    /// A number or a string as text (Postmark's numeric ids).
    func identifier(_ key: String) -> String? {
        if let text = self[key] as? String, !text.isEmpty { return text }
        if let number = self[key] as? Int64 { return String(number) }
        return nil
    }
}

/// Provider details kept in the ledger: short, single-line, never an address.
func feedbackDetail(_ pairs: [(String, String?)]) -> [String: String] {
    var detail: [String: String] = [:]
    for (key, value) in pairs {
        guard let value, !value.isEmpty, !value.contains("@") else { continue }
        detail[key] = String(value.prefix(200).filter { !$0.isNewline })
    }
    return detail
}

// MARK: Checking a setting before it is stored

/// What `listgate webhooks inbound add` checks, so a source that could never verify a
/// request is refused when it is added rather than failing every request later.
public enum ProviderWebhookSettings {
    /// Why `setting` cannot work; nil when it can.
    public static func problem(_ setting: WebhookSourceSetting) -> String? {
        switch setting {
        case .ses(let topicARN):
            guard let topicARN else { return nil }
            return topicARN.hasPrefix("arn:") && topicARN.count <= 256 && !topicARN.contains(where: \.isWhitespace)
                ? nil : "--topic-arn must be an SNS topic ARN, e.g. arn:aws:sns:us-east-1:123456789012:ses-feedback"
        case .sendgrid(let publicKey):
            return SendGridWebhook.publicKey(publicKey) == nil
                ? "--public-key must be the Event Webhook verification key as SendGrid shows it (base64, an ECDSA P-256 public key)"
                : nil
        case .mailgun(let signingKey):
            return !signingKey.isEmpty && signingKey.count <= 200 && signingKey.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) })
                ? nil : "--signing-key must be Mailgun's HTTP webhook signing key (printable, no spaces)"
        case .postmark(let username, let password):
            guard !username.isEmpty, username.count <= 64, username.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
            }) else { return "--username must be 1–64 characters a-z, A-Z, 0-9, '.', '_' or '-' (it goes into the webhook URL)" }
            guard password.count >= WebhookPasswordHash.minimumLength, password.count <= 200,
                  password.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) && $0 != ":" && $0 != "@" && $0 != "/" })
            else {
                return "--password must be \(WebhookPasswordHash.minimumLength)–200 printable characters without ':', '@' or '/' "
                    + "(or leave it out to have one generated)"
            }
            return nil
        }
    }
}
