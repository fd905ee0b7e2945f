// Specification of mail stencils (templates rendered once per list, values filled in
// per mail): the mail is exactly what Mustache itself renders, and a template a stencil
// cannot reproduce is left to Mustache.
import Foundation
import ListgateCore
@testable import ListgateMail
import Mustache
import Testing

@Suite("Mail stencils")
struct MailStencilTests {
    static let recipients = ["taro@example.jp", "o'brien@example.ie", "a&b{x}@example.net", "山田@例え.jp"]
    static let listNames = ["週刊お知らせ", "Tom & Jerry's <news>", "\"quoted\" 'list'", "Café Ünïcode"]

    func list(name: String, locale: ListLocale, id: Int64) throws -> MailingList {
        MailingList(
            id: id, slug: try ListSlug("news"), name: name, from: try Mailbox("編集部 <news@example.org>"),
            replyTo: nil, locale: locale, allowedAddresses: [], createdAt: Date())
    }

    @Test("every template part of every kind and language comes out exactly as Mustache renders it")
    func sameAsMustache() async throws {
        let composer = try await AutoReplyComposer.bundled()
        var id: Int64 = 0
        for kind in AutoReplyKind.allCases {
            for locale in ListLocale.allCases {
                for name in Self.listNames {
                    id += 1
                    let list = try list(name: name, locale: locale, id: id)
                    for (index, address) in Self.recipients.enumerated() {
                        let links = AutoReply.Links(
                            confirm: "https://lists.example.org/confirm/C\(index)?a=1&b=<2>",
                            block: "https://lists.example.org/block/B\(index)'\"",
                            unsubscribe: "https://lists.example.org/unsubscribe/U\(index)&x",
                            preferences: "https://lists.example.org/preferences/P\(index)<&>",
                            resubscribe: "https://lists.example.org/lists/news/subscribe?r=\(index)")
                        let reply = AutoReply(kind: kind, list: list, recipient: try Recipient(EmailAddress(address)), links: links)
                        // Twice: the first mail builds the stencil, the second uses it.
                        _ = try composer.compose(reply)
                        let message = try composer.compose(reply)
                        let values = try AutoReplyComposer.values(for: reply).all
                        let template = "\(kind.rawValue).\(locale.rawValue)"
                        let text = try #require(composer.templates.render(values, withTemplate: "\(template).text"))
                        let html = try #require(composer.templates.render(values, withTemplate: "\(template).html"))
                        let subject = try #require(composer.templates.render(values, withTemplate: "\(template).subject"))
                        #expect(message.textBody == text, "\(template).text for \(address) on \(name)")
                        #expect(message.htmlBody == html, "\(template).html for \(address) on \(name)")
                        #expect(message.subject == subject.trimmingCharacters(in: .whitespacesAndNewlines))
                    }
                }
            }
        }
    }

    @Test("a mark reads back as escaped where the template escapes and raw where it does not")
    func marks() throws {
        let library = MustacheLibrary(templates: [
            "html": try MustacheTemplate(string: "<a href=\"{{url}}\">{{name}}</a> {{{url}}}"),
            "text": try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}Go to {{url}}."),
        ])
        let html = try #require(AutoReplyComposer.stencil(library, "html", list: ["name": "A & B"], messageKeys: ["url"]))
        #expect(html.pieces == [
            .text("<a href=\""), .value(key: "url", escaped: true), .text("\">A &amp; B</a> "), .value(key: "url", escaped: false),
        ])
        #expect(html.render(["url": "https://x.example/?a=1&b=2"])
            == "<a href=\"https://x.example/?a=1&amp;b=2\">A &amp; B</a> https://x.example/?a=1&b=2")
        let text = try #require(AutoReplyComposer.stencil(library, "text", list: [:], messageKeys: ["url"]))
        #expect(text.render(["url": "https://x.example/?a=1&b=2"]) == "Go to https://x.example/?a=1&b=2.")
    }

    @Test("a template that transforms a per-mail value gets no stencil and is rendered by Mustache")
    func fallsBack() throws {
        let library = MustacheLibrary(templates: [
            "shout": try MustacheTemplate(string: "{{uppercased(url)}}"),
            "reversed": try MustacheTemplate(string: "<b>{{reversed(url)}}</b>"),
        ])
        #expect(AutoReplyComposer.stencil(library, "shout", list: [:], messageKeys: ["url"]) == nil)
        #expect(AutoReplyComposer.stencil(library, "reversed", list: [:], messageKeys: ["url"]) == nil)
    }
}
