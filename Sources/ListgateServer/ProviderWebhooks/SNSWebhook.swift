// Amazon SES bounces and complaints, as Amazon SNS posts them. SNS signs each message
// with RSA (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over a canonical string
// of named fields, "Name\nvalue\n" each, in this order:
//   Notification:              Message, MessageId, Subject (if present), Timestamp, TopicArn, Type
//   SubscriptionConfirmation,
//   UnsubscribeConfirmation:   Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type
// The signing certificate is fetched from the message's SigningCertURL only when that
// is https on `sns.<region>.amazonaws.com` (what SNS uses), and cached; a
// SubscriptionConfirmation is confirmed by fetching its SubscribeURL under the same rule.
// The SES notification inside `Message` has `notificationType` (or `eventType` when
// sent by event publishing) `Bounce` or `Complaint` (README, "Provider webhooks").
import Foundation
import ListgateCore
import Synchronization
import X509

/// Which URLs may be fetched for SNS: https on `sns.<region>.amazonaws.com`, or an
/// origin the operator added for tests (LISTGATE_SES_CERT_HOSTS).
struct SNSHostRule: Sendable {
    let extraOrigins: Set<String>

    init(extraOrigins: [String]) {
        self.extraOrigins = Set(extraOrigins.map { $0.lowercased() })
    }

    func allows(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
              url.user == nil, url.password == nil, url.fragment == nil
        else { return false }
        let origin = url.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
        if extraOrigins.contains(origin) { return true }
        guard scheme == "https", url.port == nil || url.port == 443 else { return false }
        return Self.isSNSHost(host)
    }

    /// `sns.<region>.amazonaws.com`, the region being letters, digits and hyphens.
    static func isSNSHost(_ host: String) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count == 4, labels[0] == "sns", labels[2] == "amazonaws", labels[3] == "com" else { return false }
        let region = labels[1]
        return !region.isEmpty && region.count <= 40 && region.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "-")
        }
    }
}

/// Fetches, caches and applies SNS signing certificates; confirms subscriptions.
struct SNSVerification: Sendable {
    let fetch: any URLFetching
    let hosts: SNSHostRule
    let certificates = CertificateCache()

    /// SNS rotates its certificate rarely; a few URLs cover every region in use.
    final class CertificateCache: Sendable {
        private let entries = Mutex<[String: Certificate]>([:])
        static let capacity = 32

        func certificate(_ url: String) -> Certificate? { entries.withLock { $0[url] } }

        func keep(_ certificate: Certificate, for url: String) {
            entries.withLock { entries in
                if entries.count >= Self.capacity { entries.removeAll() }
                entries[url] = certificate
            }
        }
    }

    func read(_ request: ProviderRequest, topicARN: String?) async throws(ProviderRefusal) -> ProviderReading {
        guard let message = try request.json() as? [String: Any] else { throw .malformed("the body is not a JSON object") }
        let envelope = try SNSEnvelope(message)
        if let topicARN, envelope.topicARN != topicARN { throw .unverified("another topic: \(envelope.topicARN)") }
        guard let timestamp = Timestamp.strictRFC3339(envelope.timestamp) else { throw .malformed("Timestamp is not a time") }
        // Before the signature: a stale message costs no certificate fetch.
        guard request.isFresh(timestamp) else { throw .stale }
        try await verify(envelope)

        switch envelope.type {
        case "SubscriptionConfirmation":
            guard let subscribeURL = envelope.subscribeURL, hosts.allows(subscribeURL) else {
                throw .unverified("SubscribeURL is not on an SNS host")
            }
            let answer: FetchedDocument
            do { answer = try await fetch.get(subscribeURL) } catch { throw .upstream("the subscription could not be confirmed: \(error)") }
            guard answer.status == 200 else { throw .upstream("SNS answered \(answer.status) to the confirmation") }
            return ProviderReading()
        case "UnsubscribeConfirmation":
            // Someone unsubscribed this endpoint from the topic: nothing to apply.
            return ProviderReading()
        default:
            return try SESNotification.reading(envelope.message, messageID: envelope.messageID, sentAt: timestamp)
        }
    }

    /// Checks the signature with the certificate SigningCertURL names.
    func verify(_ envelope: SNSEnvelope) async throws(ProviderRefusal) {
        let algorithm: Certificate.SignatureAlgorithm
        switch envelope.signatureVersion {
        case "1": algorithm = .sha1WithRSAEncryption
        case "2": algorithm = .sha256WithRSAEncryption
        default: throw .unverified("unknown SignatureVersion")
        }
        guard let signature = Data(base64Encoded: envelope.signature) else { throw .unverified("Signature is not base64") }
        let certificate = try await certificate(envelope.signingCertURL)
        guard certificate.publicKey.isValidSignature(signature, for: Array(envelope.canonical.utf8), signatureAlgorithm: algorithm)
        else { throw .unverified("bad signature") }
    }

    func certificate(_ url: String) async throws(ProviderRefusal) -> Certificate {
        // Checked before anything is fetched: a forged message must not make listgate
        // request a URL of the forger's choosing.
        guard hosts.allows(url) else { throw .unverified("SigningCertURL is not on an SNS host") }
        if let known = certificates.certificate(url), Self.isCurrent(known) { return known }
        let document: FetchedDocument
        do { document = try await fetch.get(url) } catch { throw .unverified("the certificate could not be fetched: \(error)") }
        guard document.status == 200,
              let certificate = try? Certificate(pemEncoded: String(decoding: document.body, as: UTF8.self))
        else { throw .unverified("SigningCertURL did not give a PEM certificate") }
        guard Self.isCurrent(certificate) else { throw .unverified("the signing certificate is expired or not yet valid") }
        certificates.keep(certificate, for: url)
        return certificate
    }

    static func isCurrent(_ certificate: Certificate, now: Date = Date()) -> Bool {
        certificate.notValidBefore <= now && now <= certificate.notValidAfter
    }
}

/// The SNS message fields the signature covers, and the canonical string over them.
struct SNSEnvelope: Sendable {
    let type: String
    let messageID: String
    let topicARN: String
    let message: String
    let timestamp: String
    let subject: String?
    let subscribeURL: String?
    let token: String?
    let signatureVersion: String
    let signature: String
    let signingCertURL: String

    init(_ json: [String: Any]) throws(ProviderRefusal) {
        func required(_ key: String) throws(ProviderRefusal) -> String {
            guard let value = json.string(key), !value.isEmpty else { throw .malformed("\(key) is missing") }
            return value
        }
        type = try required("Type")
        messageID = try required("MessageId")
        topicARN = try required("TopicArn")
        message = try required("Message")
        timestamp = try required("Timestamp")
        signatureVersion = try required("SignatureVersion")
        signature = try required("Signature")
        signingCertURL = try required("SigningCertURL")
        subject = json.string("Subject")
        subscribeURL = json.string("SubscribeURL")
        token = json.string("Token")
        switch type {
        case "Notification": break
        case "SubscriptionConfirmation", "UnsubscribeConfirmation":
            guard subscribeURL != nil, token != nil else { throw .malformed("SubscribeURL and Token are required") }
        default: throw .malformed("unknown Type")
        }
    }

    /// The string SNS signed for this message's type.
    var canonical: String {
        var fields: [(String, String?)] = [("Message", message), ("MessageId", messageID)]
        if type == "Notification" {
            fields += [("Subject", subject), ("Timestamp", timestamp), ("TopicArn", topicARN), ("Type", type)]
        } else {
            fields += [("SubscribeURL", subscribeURL), ("Timestamp", timestamp), ("Token", token), ("TopicArn", topicARN), ("Type", type)]
        }
        return fields.reduce(into: "") { text, field in
            guard let value = field.1 else { return }
            text += field.0 + "\n" + value + "\n"
        }
    }
}

/// The SES notification carried in an SNS message.
enum SESNotification {
    static func reading(_ message: String, messageID: String, sentAt: Date) throws(ProviderRefusal) -> ProviderReading {
        guard let notification = (try? JSONSerialization.jsonObject(with: Data(message.utf8))) as? [String: Any] else {
            throw .malformed("Message is not an SES notification")
        }
        var reading = ProviderReading()
        switch notification.string("notificationType") ?? notification.string("eventType") {
        case "Bounce":
            guard let bounce = notification.object("bounce"), let recipients = bounce.objects("bouncedRecipients") else {
                throw .malformed("a Bounce without bounce.bouncedRecipients")
            }
            // Permanent: the address does not take mail. Transient and Undetermined: it
            // may later (mailbox full, greylisting, an unclassified answer): counted.
            let bounceType = bounce.string("bounceType")
            let type: FeedbackType = bounceType == "Permanent" ? .hardBounce : .softBounce
            let occurredAt = bounce.string("timestamp").flatMap(Timestamp.strictRFC3339) ?? sentAt
            for (index, recipient) in recipients.enumerated() {
                guard let address = recipient.string("emailAddress") else { reading.ignored += 1; continue }
                reading.events.append(FeedbackEvent(
                    id: "\(messageID):\(index)", type: type, recipient: .email(address), occurredAt: occurredAt,
                    detail: feedbackDetail([
                        ("provider", "ses"), ("bounce_type", bounceType), ("bounce_subtype", bounce.string("bounceSubType")),
                        ("status", recipient.string("status")),
                    ])))
            }
        case "Complaint":
            guard let complaint = notification.object("complaint"), let recipients = complaint.objects("complainedRecipients") else {
                throw .malformed("a Complaint without complaint.complainedRecipients")
            }
            // The recipient's mail system said the mail was not spam after all.
            if complaint.string("complaintFeedbackType") == "not-spam" {
                reading.ignored += recipients.count
                return reading
            }
            let occurredAt = complaint.string("timestamp").flatMap(Timestamp.strictRFC3339) ?? sentAt
            for (index, recipient) in recipients.enumerated() {
                guard let address = recipient.string("emailAddress") else { reading.ignored += 1; continue }
                reading.events.append(FeedbackEvent(
                    id: "\(messageID):\(index)", type: .complaint, recipient: .email(address), occurredAt: occurredAt,
                    detail: feedbackDetail([("provider", "ses"), ("feedback_type", complaint.string("complaintFeedbackType"))])))
            }
        default:
            // Delivery, Send, Open, Click… tell nothing the policy acts on.
            reading.ignored += 1
        }
        return reading
    }
}
