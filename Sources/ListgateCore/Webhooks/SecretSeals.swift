// The AES-GCM seals of the webhook secrets that must stay usable, shared by every store
// so that a value sealed by one opens with the same code (docs/security.md, "Webhook
// secrets"). Both derive their key from the `webhook_secret_key` setting (256 random bits
// made by `migrate`), each differently, so neither kind of sealed secret opens as the
// other; each binds its row's public id as associated data, so a sealed value copied
// onto another row does not open. The stores read the setting; these hold no key.
import Crypto
import Foundation

/// Provider webhook secrets (Mailgun's signing key), sealed as base64 text. It keeps the
/// key out of a copy of the table alone (an export, a leaked row); whoever holds the whole
/// database holds the `settings` row too.
package enum ProviderSecretSeal {
    /// The AES-256 key: SHA-256 over a label and the setting's value.
    package static func key(settingValue: String) -> SymmetricKey {
        SymmetricKey(data: SHA256.hash(data: Data(("listgate webhook secrets\n" + settingValue).utf8)))
    }

    /// The row's public id is the associated data: a sealed value opens on its own row only.
    package static func seal(_ secret: String, rowID: String, key: SymmetricKey) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(rowID.utf8))
        guard let combined = box.combined else { throw StoreError.unreadableValue(column: "webhook_sources.mailgun_key_sealed", "") }
        return combined.base64EncodedString()
    }

    package static func open(_ sealed: String, rowID: String, key: SymmetricKey) throws -> String {
        guard let data = Data(base64Encoded: sealed),
              let box = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Data(rowID.utf8))
        else { throw StoreError.unreadableValue(column: "webhook_sources.mailgun_key_sealed", "(sealed value that does not open)") }
        return String(decoding: plain, as: UTF8.self)
    }
}

/// Outbound webhooks' signing secrets, sealed as bytes. The key is SHA-256 of the
/// setting's value, without the provider seal's label.
package enum WebhookSecretSeal {
    package static func key(settingValue: String) -> SymmetricKey {
        SymmetricKey(data: SHA256.hash(data: Data(settingValue.utf8)))
    }

    package static func seal(_ secret: WebhookSecret, webhookID: String, key: SymmetricKey) throws -> Data {
        let box = try AES.GCM.seal(secret.bytes, using: key, authenticating: Data(webhookID.utf8))
        guard let combined = box.combined else { throw StoreError.unreadableValue(column: "webhooks.secret_sealed", "") }
        return combined
    }

    package static func open(_ sealed: Data, webhookID: String, key: SymmetricKey) throws -> WebhookSecret {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return WebhookSecret(bytes: Array(try AES.GCM.open(box, using: key, authenticating: Data(webhookID.utf8))))
    }
}
