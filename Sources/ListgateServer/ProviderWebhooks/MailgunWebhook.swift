// Mailgun's webhooks (JSON): `{"signature": {"timestamp", "token", "signature"},
// "event-data": {…}}`. The signature is HMAC-SHA256, hex, keyed with the domain's HTTP
// webhook signing key, over `timestamp` followed by `token`. It does not cover
// `event-data`, so a token is good for one request: one seen before is refused as a
// replay (the route claims it before applying). Mapping (README, "Provider webhooks"):
//   failed, severity "permanent" → hard_bounce; "temporary" → soft_bounce
//   complained                  → complaint
//   unsubscribed                → unsubscribe
//   everything else             → ignored
// Events are applied once by `event-data.id`.
import Crypto
import Foundation
import ListgateCore

enum MailgunWebhook {
    static func read(_ request: ProviderRequest, signingKey: String) throws(ProviderRefusal) -> ProviderReading {
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            throw .malformed("the body is not a JSON object")
        }
        guard let signed = body.object("signature"), let timestamp = signed.identifier("timestamp"),
              let token = signed.string("token"), let signatureText = signed.string("signature")
        else { throw .unverified("the signature is missing") }
        guard let mac = hexBytes(signatureText), mac.count == SHA256.byteCount,
              HMAC<SHA256>.isValidAuthenticationCode(
                mac, authenticating: Data((timestamp + token).utf8), using: SymmetricKey(data: Data(signingKey.utf8)))
        else { throw .unverified("bad signature") }
        guard let seconds = Double(timestamp), request.isFresh(Date(timeIntervalSince1970: seconds)) else { throw .stale }

        var reading = ProviderReading()
        reading.nonce = token
        guard let event = body.object("event-data") else { throw .malformed("event-data is missing") }
        guard let type = feedbackType(event) else {
            reading.ignored += 1
            return reading
        }
        guard let id = event.string("id"), let recipient = event.string("recipient") else {
            throw .malformed("event-data lacks id or recipient")
        }
        let occurredAt = event.number("timestamp").map { Date(timeIntervalSince1970: $0) } ?? request.now
        let status = event.object("delivery-status")
        reading.events.append(FeedbackEvent(
            id: id, type: type, recipient: .email(recipient), occurredAt: occurredAt,
            detail: feedbackDetail([
                ("provider", "mailgun"), ("event", event.string("event")), ("severity", event.string("severity")),
                ("reason", event.string("reason")), ("code", status?.identifier("code")),
            ])))
        return reading
    }

    static func feedbackType(_ event: [String: Any]) -> FeedbackType? {
        switch event.string("event") {
        case "failed":
            switch event.string("severity") {
            case "permanent": .hardBounce
            case "temporary": .softBounce
            default: nil
            }
        case "complained": .complaint
        case "unsubscribed": .unsubscribe
        default: nil
        }
    }

    /// Lower- or upper-case hex as bytes; nil for anything else.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
