// Requests signed the way each provider signs them, with keys made here, for the
// provider webhook tests. Written from the providers' documentation, independently of
// listgate's verifiers (Sources/ListgateServer/ProviderWebhooks/), so a shared mistake
// cannot pass unnoticed:
// - Amazon SNS: RSA PKCS#1 v1.5 over "Name\nvalue\n" for each signed field in the
//   documented order, SHA1 (SignatureVersion 1) or SHA256 (2), the certificate a PEM
//   served at SigningCertURL;
// - SendGrid: ECDSA P-256 over timestamp ‖ body, base64 DER, key as base64 DER SPKI;
// - Mailgun: hex HMAC-SHA256 over timestamp ‖ token with the signing key;
// - Postmark: HTTP Basic.
import Crypto
import Foundation
import X509
import _CryptoExtras

/// An SNS topic's signer: an RSA key and a self-signed certificate for it.
public struct SNSSigner: Sendable {
    public let key: _RSA.Signing.PrivateKey
    public let certificatePEM: String
    public let topicARN: String

    public init(topicARN: String = "arn:aws:sns:us-east-1:123456789012:ses-feedback", validFor: TimeInterval = 3600) throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName("sns.amazonaws.com") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(validFor),
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions(),
            issuerPrivateKey: certificateKey)
        certificatePEM = try certificate.serializeAsPEM().pemString
        self.topicARN = topicARN
    }

    /// An SNS `Notification` whose Message is `message` (an SES notification as JSON).
    public func notification(
        _ message: String, messageID: String = UUID().uuidString.lowercased(), timestamp: Date = Date(),
        certificateURL: String, version: Int = 1, subject: String? = nil
    ) throws -> Data {
        var fields: [String: String] = [
            "Type": "Notification", "MessageId": messageID, "TopicArn": topicARN, "Message": message,
            "Timestamp": Self.time(timestamp), "SignatureVersion": String(version), "SigningCertURL": certificateURL,
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        ]
        if let subject { fields["Subject"] = subject }
        var signed: [(String, String)] = [("Message", message), ("MessageId", messageID)]
        if let subject { signed.append(("Subject", subject)) }
        signed += [("Timestamp", fields["Timestamp"]!), ("TopicArn", topicARN), ("Type", "Notification")]
        fields["Signature"] = try sign(signed, version: version)
        return try JSONSerialization.data(withJSONObject: fields)
    }

    /// An SNS `SubscriptionConfirmation` asking to fetch `subscribeURL`.
    public func subscriptionConfirmation(subscribeURL: String, certificateURL: String, timestamp: Date = Date(), version: Int = 1)
        throws -> Data
    {
        let messageID = UUID().uuidString.lowercased(), token = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f7948a98bac386edfe3"
        let message = "You have chosen to subscribe to the topic \(topicARN).\nTo confirm the subscription, visit the SubscribeURL included in this message."
        var fields: [String: String] = [
            "Type": "SubscriptionConfirmation", "MessageId": messageID, "Token": token, "TopicArn": topicARN,
            "Message": message, "SubscribeURL": subscribeURL, "Timestamp": Self.time(timestamp),
            "SignatureVersion": String(version), "SigningCertURL": certificateURL,
        ]
        fields["Signature"] = try sign([
            ("Message", message), ("MessageId", messageID), ("SubscribeURL", subscribeURL), ("Timestamp", fields["Timestamp"]!),
            ("Token", token), ("TopicArn", topicARN), ("Type", "SubscriptionConfirmation"),
        ], version: version)
        return try JSONSerialization.data(withJSONObject: fields)
    }

    func sign(_ fields: [(String, String)], version: Int) throws -> String {
        let text = fields.map { "\($0.0)\n\($0.1)\n" }.joined()
        let signature = version == 1
            ? try key.signature(for: Insecure.SHA1.hash(data: Data(text.utf8)), padding: .insecurePKCS1v1_5)
            : try key.signature(for: SHA256.hash(data: Data(text.utf8)), padding: .insecurePKCS1v1_5)
        return signature.rawRepresentation.base64EncodedString()
    }

    /// SNS's own form: UTC with milliseconds.
    public static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        return formatter.string(from: date)
    }

    /// An SES bounce notification, as SES publishes it to SNS.
    public static func sesBounce(_ addresses: [String], type: String = "Permanent", subType: String = "General") -> String {
        let recipients = addresses.map { #"{"emailAddress":"\#($0)","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}"# }
        return #"{"notificationType":"Bounce","bounce":{"bounceType":"\#(type)","bounceSubType":"\#(subType)","bouncedRecipients":[\#(recipients.joined(separator: ","))],"timestamp":"2026-11-21T10:00:00.000Z","feedbackId":"0100018c-feedback"},"mail":{"timestamp":"2026-11-21T09:59:58.000Z","source":"news@example.org","messageId":"0100018c-mail","destination":["\#(addresses.first ?? "")"]}}"#
    }

    /// An SES complaint notification.
    public static func sesComplaint(_ address: String, feedbackType: String = "abuse") -> String {
        #"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"\#(address)"}],"timestamp":"2026-11-21T10:00:00.000Z","feedbackId":"0100018c-complaint","complaintFeedbackType":"\#(feedbackType)"},"mail":{"timestamp":"2026-11-21T09:59:58.000Z","source":"news@example.org","messageId":"0100018c-mail","destination":["\#(address)"]}}"#
    }
}

/// SendGrid's Signed Event Webhook.
public struct SendGridSigner: Sendable {
    /// The key's raw bytes (the key type itself is not Sendable).
    private let rawKey = P256.Signing.PrivateKey().rawRepresentation
    private var key: P256.Signing.PrivateKey { try! P256.Signing.PrivateKey(rawRepresentation: rawKey) }

    public init() {}

    /// The verification key as SendGrid shows it.
    public var publicKey: String { key.publicKey.derRepresentation.base64EncodedString() }

    /// The two headers for `body` sent at `timestamp`.
    public func headers(for body: Data, timestamp: Date = Date()) throws -> [String: String] {
        let seconds = String(Int(timestamp.timeIntervalSince1970))
        let signature = try key.signature(for: Data(seconds.utf8) + body)
        return [
            "X-Twilio-Email-Event-Webhook-Signature": signature.derRepresentation.base64EncodedString(),
            "X-Twilio-Email-Event-Webhook-Timestamp": seconds,
        ]
    }

    /// One event of the Event Webhook's array.
    public static func event(_ event: String, email: String, id: String, extra: [String: String] = [:]) -> [String: Any] {
        var fields: [String: Any] = [
            "email": email, "event": event, "sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001",
            "timestamp": Int(Date().timeIntervalSince1970), "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        ]
        for (key, value) in extra { fields[key] = value }
        return fields
    }
}

/// Mailgun's webhook signature.
public struct MailgunSigner: Sendable {
    public let signingKey: String

    public init(signingKey: String = "key-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")) {
        self.signingKey = signingKey
    }

    /// A JSON webhook body carrying `eventData`, signed at `timestamp` with `token`.
    public func body(_ eventData: [String: Any], timestamp: Date = Date(), token: String = UUID().uuidString.lowercased()) throws -> Data {
        let seconds = String(Int(timestamp.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((seconds + token).utf8), using: SymmetricKey(data: Data(signingKey.utf8)))
        let hex = mac.map { String(format: "%02x", $0) }.joined()
        return try JSONSerialization.data(withJSONObject: [
            "signature": ["timestamp": seconds, "token": token, "signature": hex],
            "event-data": eventData,
        ])
    }

    public static func failed(_ recipient: String, severity: String = "permanent", id: String = UUID().uuidString) -> [String: Any] {
        ["event": "failed", "severity": severity, "id": id, "recipient": recipient, "timestamp": Date().timeIntervalSince1970,
         "reason": "bounce", "delivery-status": ["code": 550, "message": "5.1.1 The email account does not exist"]]
    }
}

/// Postmark's Basic credentials and records.
public enum PostmarkRequests {
    public static func authorization(user: String, password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    public static func bounce(_ email: String, type: String = "HardBounce", id: Int64 = Int64.random(in: 1...4_000_000_000)) throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "RecordType": "Bounce", "MessageStream": "outbound", "ID": id, "Type": type, "TypeCode": 1,
            "Name": "Hard bounce", "MessageID": UUID().uuidString, "ServerID": 23, "Description": "The server was unable to deliver your message",
            "Details": "Test bounce details", "Email": email, "From": "news@example.org", "BouncedAt": "2026-11-21T10:00:00.1234567Z",
            "Inactive": true, "CanActivate": true, "Subject": "Newsletter",
        ] as [String: Any])
    }
}
