// Twilio SendGrid's Event Webhook, signed (the "Signed Event Webhook"): an ECDSA P-256
// signature, base64 DER, in `X-Twilio-Email-Event-Webhook-Signature`, over the bytes of
// `X-Twilio-Email-Event-Webhook-Timestamp` followed by the body exactly as received,
// verified with the public key SendGrid shows (base64 DER, SubjectPublicKeyInfo). The
// body is a JSON array of events, each with `event`, `email`, `timestamp` (Unix
// seconds) and `sg_event_id`. Mapping (README, "Provider webhooks"):
//   bounce, type "bounce"          → hard_bounce
//   bounce, type "blocked"         → soft_bounce
//   dropped, "Bounced Address"     → hard_bounce (SendGrid holds it on its bounce list)
//   dropped, "Spam Reporting Address" → complaint; "Unsubscribed Address" → unsubscribe
//   spamreport                     → complaint
//   unsubscribe, group_unsubscribe → unsubscribe
//   deferred, and everything else  → ignored: SendGrid retries a deferral itself for
//                                    up to 72 hours and reports the end as a bounce or block.
import Crypto
import Foundation
import HTTPTypes
import ListgateCore

enum SendGridWebhook {
    static let signatureHeader = HTTPField.Name("X-Twilio-Email-Event-Webhook-Signature")!
    static let timestampHeader = HTTPField.Name("X-Twilio-Email-Event-Webhook-Timestamp")!

    /// The configured key, or nil when it is not a P-256 public key (checked when added).
    static func publicKey(_ text: String) -> P256.Signing.PublicKey? {
        guard let der = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return try? P256.Signing.PublicKey(derRepresentation: der)
    }

    static func read(_ request: ProviderRequest, publicKey text: String) throws(ProviderRefusal) -> ProviderReading {
        guard let key = publicKey(text) else { throw .unverified("the configured key is not a P-256 public key") }
        guard let signatureText = request.headers[signatureHeader], let timestampText = request.headers[timestampHeader] else {
            throw .unverified("the signature headers are missing")
        }
        guard let der = Data(base64Encoded: signatureText), let signature = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else { throw .unverified("the signature is not base64 DER") }
        guard key.isValidSignature(signature, for: Data(timestampText.utf8) + Data(request.body)) else {
            throw .unverified("bad signature")
        }
        guard let seconds = Double(timestampText), request.isFresh(Date(timeIntervalSince1970: seconds)) else { throw .stale }

        guard let events = try request.json() as? [[String: Any]] else { throw .malformed("the body is not a JSON array of events") }
        var reading = ProviderReading()
        for event in events {
            guard let type = feedbackType(event), let id = event.string("sg_event_id"), let email = event.string("email") else {
                reading.ignored += 1
                continue
            }
            let occurredAt = event.number("timestamp").map { Date(timeIntervalSince1970: $0) } ?? request.now
            reading.events.append(FeedbackEvent(
                id: id, type: type, recipient: .email(email), occurredAt: occurredAt,
                detail: feedbackDetail([
                    ("provider", "sendgrid"), ("event", event.string("event")), ("type", event.string("type")),
                    ("reason", event.string("event") == "dropped" ? event.string("reason") : nil),
                    ("bounce_classification", event.string("bounce_classification")),
                ])))
        }
        return reading
    }

    /// What one SendGrid event means to the policy; nil: nothing.
    static func feedbackType(_ event: [String: Any]) -> FeedbackType? {
        switch event.string("event") {
        case "bounce": event.string("type") == "blocked" ? .softBounce : .hardBounce
        case "dropped":
            switch event.string("reason") {
            case "Bounced Address": .hardBounce
            case "Spam Reporting Address": .complaint
            case "Unsubscribed Address": .unsubscribe
            default: nil
            }
        case "spamreport": .complaint
        case "unsubscribe", "group_unsubscribe": .unsubscribe
        default: nil
        }
    }
}
