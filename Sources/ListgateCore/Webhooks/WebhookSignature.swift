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

    /// The `webhook-signature` value appended to `bytes`, with a key made once per
    /// receiver and the signed content fed to the MAC piece by piece: the worker signs
    /// every POST, and a copy of each body and a base64 string apiece showed in its profile.
    public static func append(
        id: String, timestamp: Int, body: UnsafeRawBufferPointer, key: WebhookSigningKey, to bytes: inout [UInt8]
    ) {
        var mac = key.keyed  // a copy: the key holds the keyed state, each POST hashes on from it
        var id = id, stamp = String(timestamp)
        id.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(ascii: ".")) { mac.update(data: $0) }
        stamp.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(ascii: ".")) { mac.update(data: $0) }
        mac.update(data: body)
        bytes.append(contentsOf: "v1,".utf8)
        mac.finalize().withUnsafeBytes { Base64URL.append($0, alphabet: .standard, to: &bytes) }
    }

    /// The HMAC key of a secret, for `append`.
    public static func key(_ secret: WebhookSecret) -> WebhookSigningKey {
        WebhookSigningKey(keyed: HMAC<SHA256>(key: SymmetricKey(data: secret.bytes)))
    }

    static func signedContent(id: String, timestamp: Int, body: [UInt8]) -> [UInt8] {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return content
    }
}

/// A receiver's HMAC, keyed once for all of its POSTs (keying hashes the padded key
/// twice, which showed in the delivery profile). `@unchecked Sendable`: it is only ever
/// copied, and a copy's hash state is copied on its first write (swift-crypto's digests
/// are copy-on-write), so threads signing at once never share a state they change.
public struct WebhookSigningKey: @unchecked Sendable {
    let keyed: HMAC<SHA256>
}
