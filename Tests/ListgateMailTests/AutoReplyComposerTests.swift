// Specification of the auto-reply templates: each kind in each language renders the
// one link it needs, escapes list data in HTML, and passes the content guard.
import Foundation
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("Auto-reply templates")
struct AutoReplyComposerTests {
    static let cases: [(AutoReplyKind, ListLocale)] = AutoReplyKind.allCases.flatMap { kind in
        ListLocale.allCases.map { (kind, $0) }
    }

    func list(locale: ListLocale, name: String = "週刊お知らせ", replyTo: String? = nil) throws -> MailingList {
        MailingList(
            id: 1, slug: try ListSlug("news"), name: name, from: try Mailbox("編集部 <news@example.org>"),
            replyTo: try replyTo.map { try EmailAddress($0) }, locale: locale, allowedAddresses: [], createdAt: Date())
    }

    let links = AutoReply.Links(
        confirm: "https://lists.example.org/confirm/CONFIRMTOKEN", block: "https://lists.example.org/block/BLOCKTOKEN",
        unsubscribe: "https://lists.example.org/unsubscribe/UNSUBTOKEN",
        preferences: "https://lists.example.org/preferences/ALLLISTSTOKEN",
        resubscribe: "https://lists.example.org/lists/news/subscribe")

    func expectedLink(_ kind: AutoReplyKind) -> String {
        switch kind {
        case .confirmation: links.confirm!
        case .unsubscribeLink: links.unsubscribe!
        case .receipt: links.resubscribe!
        }
    }

    @Test("every kind renders in every language as well-formed mail with its one link in each part", arguments: cases)
    func renders(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let reply = AutoReply(
            kind: kind, list: try list(locale: locale), recipient: try Recipient(EmailAddress("taro@example.jp")),
            links: links)
        let raw = try MIMERenderer.render(try composer.compose(reply))
        let mail = try MailInspector.inspect(raw)
        #expect(mail.defects.isEmpty)
        #expect(mail.to == ["taro@example.jp"])
        #expect(mail.subject?.contains("週刊お知らせ") == true)
        #expect(mail.subject?.contains("\n") == false)
        let link = expectedLink(kind)
        #expect(mail.text?.components(separatedBy: link).count == 2, "one link in the text part")
        #expect(mail.html?.components(separatedBy: "href=\"\(link)\"").count == 2, "one link in the HTML part")
        #expect(ContentGuard(recipient: try EmailAddress("taro@example.jp"), allowed: [reply.list.from.address]).check(raw) == .pass)
    }

    @Test("an unsubscribe-link mail also carries the 7-day link to every list of the address, once per part",
          arguments: ListLocale.allCases)
    func unsubscribeLinkMailCarriesAllListsLink(_ locale: ListLocale) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let message = try composer.compose(AutoReply(
            kind: .unsubscribeLink, list: try list(locale: locale), recipient: try Recipient(EmailAddress("taro@example.jp")),
            links: links))
        #expect(message.textBody.components(separatedBy: links.preferences!).count == 2)
        #expect(message.htmlBody.components(separatedBy: "href=\"\(links.preferences!)\"").count == 2)
        #expect(message.textBody.contains(locale == .ja ? "7日間" : "7 days"))
    }

    @Test("Japanese mail is in Japanese and English mail in English")
    func languages() async throws {
        let composer = try await AutoReplyComposer.bundled()
        let recipient = try Recipient(EmailAddress("taro@example.jp"))
        let ja = try composer.compose(AutoReply(kind: .confirmation, list: try list(locale: .ja), recipient: recipient, links: links))
        let en = try composer.compose(AutoReply(kind: .confirmation, list: try list(locale: .en), recipient: recipient, links: links))
        #expect(ja.textBody.contains("登録を確定する"))
        #expect(en.textBody.contains("Confirm subscription"))
        #expect(!en.textBody.contains("登録"))
    }

    @Test("without a Reply-To, every mail's footer says no reply is needed, in both parts", arguments: cases)
    func footerWithoutReplyTo(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let message = try composer.compose(AutoReply(
            kind: kind, list: try list(locale: locale), recipient: try Recipient(EmailAddress("taro@example.jp")), links: links))
        let sentence = locale == .ja ? "返信は不要です。" : "No reply is needed."
        #expect(message.textBody.contains(sentence))
        #expect(message.htmlBody.contains(sentence))
    }

    @Test("with a Reply-To, every mail's footer says replies reach the list's people instead, in both parts", arguments: cases)
    func footerWithReplyTo(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let reply = AutoReply(
            kind: kind, list: try list(locale: locale, replyTo: "contact@example.org"),
            recipient: try Recipient(EmailAddress("taro@example.jp")), links: links)
        let message = try composer.compose(reply)
        let (text, html) = locale == .ja
            ? ("ご返信は、「週刊お知らせ」の担当者に届きます。", "ご返信は、「週刊お知らせ」の担当者に届きます。")
            : ("Replies to it reach the people who run \"週刊お知らせ\".", "Replies to it reach the people who run “週刊お知らせ”.")
        #expect(message.textBody.contains(text))
        #expect(message.htmlBody.contains(html))
        for body in [message.textBody, message.htmlBody] {
            #expect(!body.contains("返信は不要") && !body.contains("No reply is needed"))
        }
        #expect(message.replyTo?.displayAddress == "contact@example.org")
    }

    @Test("a list that gains a Reply-To gets the new footer at once (the rendered-once mail is per Reply-To)")
    func footerFollowsReplyTo() async throws {
        let composer = try await AutoReplyComposer.bundled()
        let recipient = try Recipient(EmailAddress("taro@example.jp"))
        let before = try composer.compose(AutoReply(kind: .receipt, list: try list(locale: .ja), recipient: recipient, links: links))
        let after = try composer.compose(AutoReply(
            kind: .receipt, list: try list(locale: .ja, replyTo: "contact@example.org"), recipient: recipient, links: links))
        #expect(before.textBody.contains("返信は不要です。"))
        #expect(after.textBody.contains("担当者に届きます。"))
    }

    @Test("a confirmation mail links the list's privacy policy in both parts, and names none without one", arguments: ListLocale.allCases)
    func confirmationLinksPrivacyPolicy(_ locale: ListLocale) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let recipient = try Recipient(EmailAddress("taro@example.jp"))
        let plain = try list(locale: locale)
        let withPolicy = MailingList(
            id: 1, slug: plain.slug, name: plain.name, from: plain.from, replyTo: nil, locale: locale, allowedAddresses: [],
            sitePages: SitePages([.privacy: try SitePageURL("https://www.example.co.jp/privacy?from=mail&x=1")]),
            createdAt: plain.createdAt)
        let message = try composer.compose(AutoReply(kind: .confirmation, list: withPolicy, recipient: recipient, links: links))
        #expect(message.textBody.contains("\nhttps://www.example.co.jp/privacy?from=mail&x=1\n"))
        #expect(message.htmlBody.contains("href=\"https://www.example.co.jp/privacy?from=mail&amp;x=1\""))
        #expect(message.textBody.contains(locale == .ja ? "プライバシーポリシー" : "privacy policy"))
        let without = try composer.compose(AutoReply(kind: .confirmation, list: plain, recipient: recipient, links: links))
        for body in [without.textBody, without.htmlBody] {
            #expect(!body.contains("プライバシーポリシー") && !body.contains("privacy policy"))
        }
    }

    @Test("a confirmation mail carries a \"not me\" link to block further mail")
    func confirmationHasBlockLink() async throws {
        let composer = try await AutoReplyComposer.bundled()
        let message = try composer.compose(AutoReply(
            kind: .confirmation, list: try list(locale: .ja), recipient: try Recipient(EmailAddress("taro@example.jp")),
            links: links))
        #expect(message.textBody.contains(links.block!))
        #expect(message.htmlBody.contains("href=\"\(links.block!)\""))
    }

    @Test("list data is HTML-escaped in the HTML part and left as is in the text part")
    func escaping() async throws {
        let composer = try await AutoReplyComposer.bundled()
        let message = try composer.compose(AutoReply(
            kind: .receipt, list: try list(locale: .en, name: "A & B <script>"),
            recipient: try Recipient(EmailAddress("taro@example.jp")), links: links))
        #expect(message.htmlBody.contains("A &amp; B &lt;script&gt;"))
        #expect(!message.htmlBody.contains("<script>"))
        #expect(message.textBody.contains("A & B <script>"))
    }

    @Test("a reply without the link its kind needs is refused, never sent with a hole", arguments: AutoReplyKind.allCases)
    func missingLink(_ kind: AutoReplyKind) async throws {
        let composer = try await AutoReplyComposer.bundled()
        let reply = AutoReply(
            kind: kind, list: try list(locale: .ja), recipient: try Recipient(EmailAddress("taro@example.jp")),
            links: .init())
        #expect(throws: ComposeError.self) { try composer.compose(reply) }
    }

    @Test("the consent wording version is stable and differs between kinds and languages")
    func consentVersion() async throws {
        let composer = try await AutoReplyComposer.bundled()
        let again = try await AutoReplyComposer.bundled()
        func version(_ composer: AutoReplyComposer, _ kind: AutoReplyKind, _ locale: ListLocale) -> String {
            ConsentWording(locale: locale, parts: composer.wording(of: kind, locale: locale)).version
        }
        let versions = Self.cases.map { version(composer, $0.0, $0.1) }
        #expect(Set(versions).count == versions.count)
        #expect(versions == Self.cases.map { version(again, $0.0, $0.1) })
        #expect(versions.allSatisfy { $0.count == 16 })
    }
}
