// The start-up check of the mail templates (README, "Your own wording"): every kind, in
// every language, with and without a Reply-To (and privacy policy and sender identity), is composed and written as a message the
// way the outbox would, from made-up values. A template that would fail for a real
// person stops `serve` with a line naming its file, before anyone subscribes.
import Foundation
import ListgateCore

extension AutoReplyComposer {
    public func check() throws(FormsError) {
        for kind in AutoReplyKind.allCases {
            for locale in ListLocale.allCases {
                for replyTo in [nil, "contact@example.org"] {
                    try check(kind, locale, replyTo: replyTo)
                }
            }
        }
    }

    private func check(_ kind: AutoReplyKind, _ locale: ListLocale, replyTo: String?) throws(FormsError) {
        let name = "\(kind.rawValue).\(locale.rawValue)"
        func file(_ part: String) -> String { set?.culprits("\(name).\(part)") ?? "\(name).\(part).mustache" }
        let reply: AutoReply
        do {
            // An ampersand in the name shows a plain-text part that escapes for HTML.
            let list = MailingList(
                id: 0, slug: try ListSlug("sample"), name: "A & B お知らせ", from: try Mailbox("編集部 <news@example.org>"),
                replyTo: try replyTo.map { try EmailAddress($0) }, locale: locale, allowedAddresses: [],
                // With a Reply-To, a privacy policy and a sender identity too: each optional
                // section is rendered once.
                sitePages: replyTo == nil ? SitePages() : SitePages([.privacy: try SitePageURL("https://www.example.co.jp/privacy")]),
                senderIdentity: replyTo == nil ? SenderIdentity() : Self.sampleIdentity,
                createdAt: Date())
            reply = AutoReply(kind: kind, list: list, recipient: try Recipient(EmailAddress("taro@example.jp")), links: Self.sampleLinks)
        } catch {
            preconditionFailure("the sample values are valid: \(error)")
        }
        let message: OutgoingMessage
        do { message = try compose(reply) } catch { throw FormsError("\(file("text")): \(error)") }
        if message.subject.isEmpty { throw FormsError("\(file("subject")): the subject comes out empty") }
        do { _ = try MIMERenderer.render(message) } catch { throw FormsError("\(file("subject")): \(error)") }
        for (part, text) in [("subject", message.subject), ("text", message.textBody)] where text.contains("&amp;") {
            throw FormsError(
                "\(file(part)): escapes values for HTML in plain text (\"A & B\" came out as \"A &amp; B\"); begin it with {{% CONTENT_TYPE: TEXT}}")
        }
        // The Act on Specified Electronic Mail asks every mail to name its sender: a
        // template that drops the identity would send mail that breaks it.
        if !reply.list.senderIdentity.isEmpty {
            for (key, value) in Self.sampleIdentityValues {
                for (part, body) in [("text", message.textBody), ("html", message.htmlBody)] where !body.contains(value) {
                    throw FormsError("\(file(part)): leaves out {{\(key)}}, the sender identity every mail of the list must carry")
                }
            }
        }
        for (key, url) in Self.requiredLinks(kind) {
            for (part, body) in [("text", message.textBody), ("html", message.htmlBody)] where !body.contains(url) {
                throw FormsError("\(file(part)): leaves out {{\(key)}}, the link this mail is for")
            }
        }
    }

    static let sampleIdentityValues = [
        ("legal_name", "株式会社サンプル"), ("postal_address", "〒100-0001 東京都千代田区千代田1-1"),
        ("contact", "support@example.org"),
    ]

    static var sampleIdentity: SenderIdentity {
        SenderIdentity(
            legalName: sampleIdentityValues[0].1, postalAddress: sampleIdentityValues[1].1,
            contact: try? SenderContact(sampleIdentityValues[2].1))
    }

    static let sampleLinks = AutoReplyLinks(
        confirm: "https://lists.example.org/confirm/SAMPLE-CONFIRM", block: "https://lists.example.org/block/SAMPLE-BLOCK",
        unsubscribe: "https://lists.example.org/unsubscribe/SAMPLE-UNSUBSCRIBE",
        preferences: "https://lists.example.org/preferences/SAMPLE-PREFERENCES",
        resubscribe: "https://lists.example.org/lists/sample/subscribe")

    /// The links without which a kind of mail cannot do its job: the confirmation's button
    /// and its "this was not me" link, the unsubscribe link. (The receipt's link to subscribe
    /// again, and the link to every list, are the operator's choice.)
    static func requiredLinks(_ kind: AutoReplyKind) -> [(String, String)] {
        switch kind {
        case .confirmation: [("confirm_url", sampleLinks.confirm!), ("block_url", sampleLinks.block!)]
        case .unsubscribeLink: [("unsubscribe_url", sampleLinks.unsubscribe!)]
        case .receipt: []
        }
    }
}
