// Renders an AutoReply from the Forms/mail templates (subject, text and HTML, per
// locale) into an RFC 5322 message for the outbox.
import Crypto
import Foundation
import ListgateCore
import Mustache

public struct AutoReplyComposer: AutoReplyRendering {
    let templates: MustacheLibrary
    /// The wording hashes, computed once: templates do not change while listgate runs,
    /// and every subscribe request records one.
    private let consentVersions: [String: String]

    public init(templates: MustacheLibrary) {
        self.templates = templates
        var versions: [String: String] = [:]
        for kind in AutoReplyKind.allCases {
            for locale in ListLocale.allCases {
                versions["\(kind.rawValue).\(locale.rawValue)"] = Self.wordingHash(templates, kind: kind, locale: locale)
            }
        }
        consentVersions = versions
    }

    /// The templates shipped in `Forms/mail`.
    public static func bundled() async throws -> AutoReplyComposer {
        guard let directory = Bundle.module.url(forResource: "mail", withExtension: nil) else {
            throw ComposeError.missingTemplate("Forms/mail")
        }
        return AutoReplyComposer(templates: try await MustacheLibrary(directory: directory.path))
    }

    /// Renders the message; the same `messageID` must be kept for every retry.
    public func compose(_ reply: AutoReply, messageID: MessageID? = nil, date: Date = Date()) throws -> OutgoingMessage {
        let name = "\(reply.kind.rawValue).\(reply.list.locale.rawValue)"
        let context = try Self.context(for: reply)
        func render(_ part: String) throws -> String {
            guard let text = templates.render(context, withTemplate: "\(name).\(part)") else {
                throw ComposeError.missingTemplate("\(name).\(part).mustache")
            }
            return text
        }
        let subject = try render("subject").trimmingCharacters(in: .whitespacesAndNewlines)
        return OutgoingMessage(
            from: reply.list.from,
            replyTo: reply.list.replyTo,
            to: reply.recipient,
            subject: subject,
            textBody: try render("text"),
            htmlBody: try render("html"),
            messageID: messageID ?? MessageID.make(domain: reply.list.from.address.asciiDomain),
            date: date)
    }

    /// Renders and wraps the message for the outbox.
    public func outboxMessage(_ reply: AutoReply, date: Date = Date()) throws -> NewOutboxMessage {
        let message = try compose(reply, date: date)
        let raw: [UInt8]
        do { raw = try MIMERenderer.render(message) } catch { throw ComposeError.message(error) }
        return NewOutboxMessage(
            messageID: message.messageID.value, listID: reply.list.id, kind: reply.kind,
            recipient: reply.recipient.address, raw: raw)
    }

    public func render(_ kind: AutoReplyKind, list: MailingList, to recipient: EmailAddress, links: AutoReplyLinks) throws
        -> NewOutboxMessage
    {
        try outboxMessage(AutoReply(kind: kind, list: list, recipient: Recipient(recipient), links: links))
    }

    /// A short hash of the wording a person saw (subject, text and HTML templates),
    /// recorded with consent events so the ledger says what was agreed to.
    public func consentVersion(for kind: AutoReplyKind, locale: ListLocale) -> String {
        consentVersions["\(kind.rawValue).\(locale.rawValue)"] ?? Self.wordingHash(templates, kind: kind, locale: locale)
    }

    static func wordingHash(_ templates: MustacheLibrary, kind: AutoReplyKind, locale: ListLocale) -> String {
        let name = "\(kind.rawValue).\(locale.rawValue)"
        let sources = ["subject", "text", "html"].map { templates.getTemplate(named: "\(name).\($0)")?.description ?? "" }
        return String(SHA256.hash(data: Data(sources.joined(separator: "\u{1F}").utf8))
            .map { String(format: "%02x", $0) }.joined().prefix(16))
    }

    /// The template variables. Only listgate's own values; every link the kind needs
    /// must be present (fail closed rather than mail a broken link).
    static func context(for reply: AutoReply) throws -> [String: Any] {
        var context: [String: Any] = [
            "list_name": reply.list.name,
            "recipient": reply.recipient.address.displayAddress,
            "expires_hours": reply.links.expiresHours,
        ]
        let required: [(String, String?)] =
            switch reply.kind {
            case .confirmation: [("confirm_url", reply.links.confirm), ("block_url", reply.links.block)]
            case .unsubscribeLink: [("unsubscribe_url", reply.links.unsubscribe)]
            case .receipt: [("resubscribe_url", reply.links.resubscribe)]
            }
        for (key, value) in required {
            guard let value, !value.isEmpty else { throw ComposeError.missingLink(kind: reply.kind, link: key) }
            context[key] = value
        }
        return context
    }
}
