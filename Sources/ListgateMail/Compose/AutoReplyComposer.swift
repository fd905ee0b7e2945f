// Renders an AutoReply from the Forms/mail templates (subject, text and HTML, per
// locale) into an RFC 5322 message for the outbox.
import Foundation
import ListgateCore
import Mustache

public struct AutoReplyComposer: AutoReplyRendering {
    let templates: MustacheLibrary
    /// Where each template came from (the operator's forms directory or Forms/mail), for
    /// the start-up check's messages.
    let set: TemplateSet?
    /// Each list's templates, rendered once with marks for the per-message values.
    private let stencils = MailStencils()

    public init(templates: MustacheLibrary) {
        self.init(templates: templates, set: nil)
    }

    /// The templates of `Forms/mail`, each replaced by the operator's file of the same
    /// name in `formsDirectory/mail/` (LISTGATE_FORMS_DIR). Its wording hashes are those of
    /// the templates actually used, so consent given to the operator's wording is recorded
    /// as that wording.
    public init(set: TemplateSet) {
        self.init(templates: set.library, set: set)
    }

    private init(templates: MustacheLibrary, set: TemplateSet?) {
        self.templates = templates
        self.set = set
    }

    /// The templates shipped in `Forms/mail`.
    public static func bundled() async throws -> AutoReplyComposer {
        try load(formsDirectory: nil)
    }

    /// The shipped templates, with those of `formsDirectory/mail/` in their place.
    public static func load(formsDirectory: String?) throws -> AutoReplyComposer {
        guard let directory = Bundle.module.url(forResource: "mail", withExtension: nil) else {
            throw ComposeError.missingTemplate("Forms/mail")
        }
        return AutoReplyComposer(set: try TemplateSet.load(builtIn: directory, folder: "mail", formsDirectory: formsDirectory))
    }

    /// Renders the message; the same `messageID` must be kept for every retry.
    public func compose(_ reply: AutoReply, messageID: MessageID? = nil, date: Date = Date()) throws -> OutgoingMessage {
        let name = "\(reply.kind.rawValue).\(reply.list.locale.rawValue)"
        let values = try Self.values(for: reply)
        func render(_ part: String) throws -> String {
            let template = "\(name).\(part)"
            let listValues = values.list
            // Every value the stencil was rendered with is in its key, so a list changed
            // by `lists update` (name, identity, …) gets a new stencil at once.
            let key = ([template, String(reply.list.id)]
                + listValues.sorted { $0.key < $1.key }.flatMap { [$0.key, "\($0.value)"] })
                .joined(separator: "\u{1F}")
            let stencil = stencils.stencil(for: key) {
                Self.stencil(templates, template, list: listValues, messageKeys: Set(values.message.keys))
            }
            if let text = stencil?.render(values.message) { return text }
            guard let text = templates.render(values.all, withTemplate: template) else {
                throw ComposeError.missingTemplate("\(template).mustache")
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

    /// The template rendered with marks for the message's values, kept only if it then
    /// renders a probe exactly as Mustache does.
    static func stencil(_ templates: MustacheLibrary, _ template: String, list: [String: Any], messageKeys: Set<String>)
        -> MailStencil?
    {
        let marks = Dictionary(uniqueKeysWithValues: messageKeys.map { ($0, MailStencil.mark($0)) })
        guard let marked = templates.render(list.merging(marks) { $1 }, withTemplate: template),
              let stencil = MailStencil(rendered: marked, keys: messageKeys)
        else { return nil }
        let probe = Dictionary(uniqueKeysWithValues: messageKeys.map { ($0, "<a href=\"\($0)\">&amp;'\($0)' & 日本語</a>") })
        guard let expected = templates.render(list.merging(probe) { $1 }, withTemplate: template),
              stencil.render(probe) == expected
        else { return nil }
        return stencil
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

    /// The kind's subject, text and HTML templates as written, and what they use: the
    /// mail's part of a consent wording. The operator's own files count as theirs, so
    /// consent given to the operator's wording is recorded as that wording. Without a
    /// template set (templates given as a library), each template's parsed form stands in.
    public func wording(of kind: AutoReplyKind, locale: ListLocale) -> [ConsentWording.Part] {
        let names = ["subject", "text", "html"].map { "\(kind.rawValue).\(locale.rawValue).\($0)" }
        if let set { return names.flatMap(set.wording(of:)) }
        return names.map { ConsentWording.Part(name: "mail/\($0)", text: templates.getTemplate(named: $0)?.description ?? "") }
    }

    /// The template variables. Only listgate's own values; every link the kind needs
    /// must be present (fail closed rather than mail a broken link). `list` holds the
    /// list's values, the same for every mail; `message` those of this mail alone.
    static func values(for reply: AutoReply) throws -> (list: [String: Any], message: [String: String], all: [String: Any]) {
        var list: [String: Any] = [
            "list_name": EscapableText.make(reply.list.name),
            "expires_hours": reply.links.expiresHours,
        ]
        // Present only when the list has a Reply-To: the footer then says where a reply
        // goes instead of "no reply is needed".
        if let replyTo = reply.list.replyTo { list["reply_to"] = EscapableText.make(replyTo.displayAddress) }
        if let privacy = reply.list.sitePages.privacy { list["privacy_url"] = EscapableText.make(privacy.text) }
        list.merge(identityValues(reply.list.senderIdentity)) { $1 }
        if reply.list.isArchived { list["list_archived"] = true }
        var message = ["recipient": EscapableText.make(reply.recipient.address.displayAddress)]
        let required: [(String, String?)] =
            switch reply.kind {
            case .confirmation: [("confirm_url", reply.links.confirm), ("block_url", reply.links.block)]
            case .unsubscribeLink: [("unsubscribe_url", reply.links.unsubscribe), ("preferences_url", reply.links.preferences)]
            // A closed list takes no subscriptions: its receipt offers no way back.
            case .receipt: reply.list.isArchived ? [] : [("resubscribe_url", reply.links.resubscribe)]
            }
        for (key, value) in required {
            guard let value, !value.isEmpty else { throw ComposeError.missingLink(kind: reply.kind, link: key) }
            message[key] = EscapableText.make(value)
        }
        return (list, message, list.merging(message) { $1 })
    }

    /// The footer's sender identity: `sender_identity` (true) when any part is set, so a
    /// template can put the block around it, and each part that is set.
    static func identityValues(_ identity: SenderIdentity) -> [String: Any] {
        guard !identity.isEmpty else { return [:] }
        var values: [String: Any] = ["sender_identity": true]
        if let name = identity.legalName { values["legal_name"] = EscapableText.make(name) }
        if let address = identity.postalAddress { values["postal_address"] = EscapableText.make(address) }
        switch identity.contact {
        // As the recipient's own address is shown: the domain in Unicode, as people read it.
        case .address(let address):
            values["contact"] = EscapableText.make(address.displayAddress)
            values["contact_href"] = EscapableText.make("mailto:" + address.displayAddress)
        case .page(let url):
            values["contact"] = EscapableText.make(url.text)
            values["contact_href"] = EscapableText.make(url.text)
        case nil: break
        }
        return values
    }
}
