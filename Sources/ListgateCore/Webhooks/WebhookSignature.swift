// Standard Webhooks signing (https://www.standardwebhooks.com/, "Verifying webhook
// authenticity"): HMAC-SHA256 keyed with the secret's bytes (the base64 after `whsec_`)
// over "ID.TIMESTAMP.BODY", sent as `webhook-signature: v1,BASE64`. Any receiver's
// Standard Webhooks library verifies it; README shows the check in a few lines of Python.
import Crypto
import Foundation

public enum WebhookSignature {
    /// The `webhook-signature` header value for one attempt.
    public static func header(id: String, timestamp: Int, body: [UInt8], secret: WebhookSecret) -> String {
        "v1," + Data(mac(id: id, timestamp: timestamp, body: body, secret: secret)).base64EncodedString()
    }

    /// True when any `v1,` signature in the header (space-separated, as the spec allows
    /// during a key rotation) matches; compared in constant time.
    public static func isValid(header: String, id: String, timestamp: Int, body: [UInt8], secret: WebhookSecret) -> Bool {
        let content = signedContent(id: id, timestamp: timestamp, body: body)
        let key = SymmetricKey(data: secret.bytes)
        return header.split(separator: " ").contains { entry in
            guard entry.hasPrefix("v1,"), let signature = Data(base64Encoded: String(entry.dropFirst(3))) else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: content, using: key)
        }
    }

    static func mac(id: String, timestamp: Int, body: [UInt8], secret: WebhookSecret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(
            for: signedContent(id: id, timestamp: timestamp, body: body), using: SymmetricKey(data: secret.bytes)))
    }

    static func signedContent(id: String, timestamp: Int, body: [UInt8]) -> [UInt8] {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return content
    }
}
