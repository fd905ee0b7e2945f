// Specification of the sender identity in auto-replies (Japan's Act on Specified
// Electronic Mail, Art. 4): when a list sets it, every kind of mail, in each language,
// names the sender, its postal address and its contact in the footer of both parts; a
// list without one shows no empty labels; and a contact address passes the content guard.
import Foundation
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("Sender identity in every auto-reply")
struct SenderIdentityMailTests {
    static let cases: [(AutoReplyKind, ListLocale)] = AutoReplyKind.allCases.flatMap { kind in
        ListLocale.allCases.map { (kind, $0) }
    }

    static let labels: [ListLocale: [String]] = [.ja: ["送信者：", "所在地：", "お問い合わせ先："], .en: ["Sender:", "Address:", "Contact:"]]

    func list(locale: ListLocale, identity: SenderIdentity, archived: Bool = false) throws -> MailingList {
        MailingList(
            id: 1, slug: try ListSlug("news"), name: "週刊お知らせ", from: try Mailbox("編集部 <news@example.org>"),
            replyTo: nil, locale: locale, allowedAddresses: [], senderIdentity: identity, createdAt: Date(),
            archivedAt: archived ? Date() : nil)
    }

    func identity(contact: String = "support@example.co.jp") throws -> SenderIdentity {
        SenderIdentity(
            legalName: "株式会社サンプル & Co.", postalAddress: "〒100-0001 東京都千代田区千代田1-1 サンプルビル5階",
            contact: try SenderContact(contact))
    }

    let links = AutoReply.Links(
        confirm: "https://lists.example.org/confirm/CONFIRMTOKEN", block: "https://lists.example.org/block/BLOCKTOKEN",
        unsubscribe: "https://lists.example.org/unsubscribe/UNSUBTOKEN",
        preferences: "https://lists.example.org/preferences/ALLLISTSTOKEN",
        resubscribe: "https://lists.example.org/lists/news/subscribe")

    func mail(_ kind: AutoReplyKind, _ list: MailingList) async throws -> (raw: [UInt8], mail: InspectedMail) {
        let composer = try await AutoReplyComposer.bundled()
        let reply = AutoReply(kind: kind, list: list, recipient: try Recipient(EmailAddress("taro@example.jp")), links: links)
        let raw = try MIMERenderer.render(try composer.compose(reply))
        return (raw, try MailInspector.inspect(raw))
    }

    @Test("each kind, in each language, names sender, postal address and contact in the text and HTML footers",
          arguments: cases)
    func identityInBothParts(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let (_, mail) = try await mail(kind, try list(locale: locale, identity: try identity()))
        let text = try #require(mail.text).replacingOccurrences(of: "\r\n", with: "\n")  // lines end in CRLF on the wire
        let html = try #require(mail.html)
        let labels = try #require(Self.labels[locale])
        // "送信者：株式会社…" in Japanese (a full-width colon takes no space), "Sender: …" in English.
        func line(_ label: String, _ value: String) -> String { label.hasSuffix(":") ? "\(label) \(value)" : label + value }
        #expect(text.contains(line(labels[0], "株式会社サンプル & Co.")))
        #expect(text.contains(line(labels[1], "〒100-0001 東京都千代田区千代田1-1 サンプルビル5階")))
        #expect(text.contains(line(labels[2], "support@example.co.jp")))
        // After the footer's "--", each on its own line.
        let footer = try #require(text.components(separatedBy: "\n--\n").last)
        #expect(labels.allSatisfy { label in footer.split(separator: "\n").contains { $0.hasPrefix(label) } }, "\(footer)")
        #expect(html.contains("株式会社サンプル &amp; Co."), "escaped in HTML")
        #expect(html.contains("〒100-0001 東京都千代田区千代田1-1 サンプルビル5階"))
        #expect(html.contains(#"<a href="mailto:support@example.co.jp""#))
        #expect(labels.allSatisfy(html.contains))
    }

    @Test("a list without an identity shows none of its labels", arguments: cases)
    func noIdentityNoLabels(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let (_, mail) = try await mail(kind, try list(locale: locale, identity: SenderIdentity()))
        let labels = try #require(Self.labels[locale])
        for part in [try #require(mail.text), try #require(mail.html)] {
            #expect(!labels.contains(where: part.contains))
        }
    }

    @Test("only the parts that are set are shown, without empty lines", arguments: ListLocale.allCases)
    func partialIdentity(_ locale: ListLocale) async throws {
        let (_, mail) = try await mail(.receipt, try list(locale: locale, identity: SenderIdentity(legalName: "Example K.K.")))
        let text = try #require(mail.text).replacingOccurrences(of: "\r\n", with: "\n")  // lines end in CRLF on the wire
        let labels = try #require(Self.labels[locale])
        #expect(text.contains(labels[0]))
        #expect(!text.contains(labels[1]) && !text.contains(labels[2]))
        #expect(!text.contains("\n\n\n"))
        #expect(text.hasSuffix("Example K.K.\n"), "the identity ends the text part")
    }

    @Test("a contact address in the footer passes the content guard with the list's own addresses", arguments: cases)
    func contactPassesTheGuard(_ kind: AutoReplyKind, _ locale: ListLocale) async throws {
        let list = try list(locale: locale, identity: try identity())
        let (raw, _) = try await mail(kind, list)
        let recipient = try EmailAddress("taro@example.jp")
        #expect(ContentGuard(recipient: recipient, allowed: list.addressesMailMayContain).check(raw) == .pass)
        #expect(ContentGuard(recipient: recipient, allowed: [list.from.address]).check(raw) != .pass,
                "without the contact among them, the guard would hold the mail")
    }

    @Test("a contact page is linked as it is", arguments: ListLocale.allCases)
    func contactPage(_ locale: ListLocale) async throws {
        let (_, mail) = try await mail(.confirmation, try list(locale: locale, identity: try identity(contact: "https://www.example.co.jp/contact")))
        #expect(mail.text?.contains("https://www.example.co.jp/contact") == true)
        #expect(mail.html?.contains(#"<a href="https://www.example.co.jp/contact""#) == true)
    }

    @Test("an archived list's receipt offers no link to subscribe again", arguments: ListLocale.allCases)
    func archivedReceipt(_ locale: ListLocale) async throws {
        let (_, mail) = try await mail(.receipt, try list(locale: locale, identity: SenderIdentity(), archived: true))
        #expect(mail.text?.contains(links.resubscribe!) == false)
        #expect(mail.html?.contains(links.resubscribe!) == false)
    }

    @Test("a changed identity shows in the next mail at once: the composer's stencils are keyed by every list value")
    func changedIdentityIsNotCached() async throws {
        let composer = try await AutoReplyComposer.bundled()
        func text(_ identity: SenderIdentity) throws -> String {
            try composer.compose(AutoReply(
                kind: .confirmation, list: try list(locale: .ja, identity: identity),
                recipient: try Recipient(EmailAddress("taro@example.jp")), links: links)).textBody
        }
        #expect(try text(SenderIdentity(legalName: "旧社名株式会社")).contains("送信者：旧社名株式会社"))
        #expect(try text(SenderIdentity(legalName: "新社名株式会社")).contains("送信者：新社名株式会社"))
    }
}
