// Postmark's webhooks, authenticated with HTTP Basic credentials that the operator puts
// in the webhook URL (`https://USER:PASSWORD@host/webhooks/postmark/SLUG`). Postmark
// signs nothing and sends no time, so there is no freshness check: a replay is answered
// but changes nothing, each record being applied once by its id. The body is one JSON
// object with `RecordType`. Mapping (README, "Provider webhooks"):
//   Bounce, Type HardBounce or BadEmailAddress          → hard_bounce
//   Bounce, Type SoftBounce, Transient or DnsError      → soft_bounce
//   Bounce, Type SpamComplaint                          → complaint
//   Bounce, Type Unsubscribe                            → unsubscribe
//   Bounce, any other Type (AutoResponder, Blocked, …)  → ignored
//   SpamComplaint                                       → complaint
//   SubscriptionChange, SuppressSending true: by SuppressionReason HardBounce → hard_bounce,
//     SpamComplaint → complaint, anything else (ManualSuppression, an unsubscribe) → unsubscribe
//   SubscriptionChange, SuppressSending false (a reactivation) → ignored: a provider
//     never brings anyone back to a list
//   Delivery, Open, Click…                              → ignored
// Ids: `Bounce:ID`, `SpamComplaint:ID`; a SubscriptionChange has no id of its own, so
// its id is a hash of its stream, recipient, time and reason.
import Crypto
import Foundation
import ListgateCore

enum PostmarkWebhook {
    static func read(_ request: ProviderRequest, username: String, password: WebhookPasswordHash) throws(ProviderRefusal) -> ProviderReading {
        guard let credentials = basicCredentials(request.headers[.authorization]) else { throw .unverified("no Basic credentials") }
        // Both compared in full whatever the first says, so timing tells nothing.
        let userMatches = SenderTokenSecret.constantTimeEqual(SHA256.hex(Data(credentials.user.utf8)), SHA256.hex(Data(username.utf8)))
        let passwordMatches = password.matches(credentials.password)
        guard userMatches && passwordMatches else { throw .unverified("wrong credentials") }

        guard let record = try request.json() as? [String: Any] else { throw .malformed("the body is not a JSON object") }
        var reading = ProviderReading()
        switch record.string("RecordType") {
        case "Bounce":
            guard let type = bounceType(record.string("Type")) else { reading.ignored += 1; return reading }
            reading.events.append(try event(record, id: "Bounce", type: type, timeField: "BouncedAt", request: request))
        case "SpamComplaint":
            reading.events.append(try event(record, id: "SpamComplaint", type: .complaint, timeField: "BouncedAt", request: request))
        case "SubscriptionChange":
            guard record.bool("SuppressSending") == true else { reading.ignored += 1; return reading }
            guard let recipient = record.string("Recipient") else { throw .malformed("Recipient is missing") }
            let reason = record.string("SuppressionReason")
            let type: FeedbackType = switch reason {
            case "HardBounce": .hardBounce
            case "SpamComplaint": .complaint
            default: .unsubscribe
            }
            let changedAt = record.string("ChangedAt") ?? ""
            let key = [record.string("MessageStream") ?? "", recipient, changedAt, reason ?? ""].joined(separator: "\n")
            reading.events.append(FeedbackEvent(
                id: "SubscriptionChange:" + String(SHA256.hex(Data(key.utf8)).prefix(32)), type: type,
                recipient: .email(recipient), occurredAt: Timestamp.strictRFC3339(changedAt) ?? request.now,
                detail: feedbackDetail([("provider", "postmark"), ("record_type", "SubscriptionChange"),
                                        ("suppression_reason", reason), ("origin", record.string("Origin"))])))
        default:
            reading.ignored += 1
        }
        return reading
    }

    static func bounceType(_ type: String?) -> FeedbackType? {
        switch type {
        case "HardBounce", "BadEmailAddress": .hardBounce
        case "SoftBounce", "Transient", "DnsError": .softBounce
        case "SpamComplaint": .complaint
        case "Unsubscribe": .unsubscribe
        default: nil
        }
    }

    /// A Bounce or SpamComplaint record: `ID`, `Email`, and its time.
    private static func event(_ record: [String: Any], id prefix: String, type: FeedbackType, timeField: String, request: ProviderRequest)
        throws(ProviderRefusal) -> FeedbackEvent
    {
        guard let id = record.identifier("ID"), let email = record.string("Email") else { throw .malformed("ID or Email is missing") }
        return FeedbackEvent(
            id: "\(prefix):\(id)", type: type, recipient: .email(email),
            occurredAt: record.string(timeField).flatMap(Timestamp.strictRFC3339) ?? request.now,
            detail: feedbackDetail([("provider", "postmark"), ("record_type", prefix), ("type", record.string("Type"))]))
    }

    /// `Authorization: Basic base64(user:password)` (RFC 7617); the password may hold ':'.
    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.count <= 1024 else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
