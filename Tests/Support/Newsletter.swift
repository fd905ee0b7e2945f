// A newsletter as an independent sender renders it (render_newsletter.py: Python's email
// package with policy.SMTP), for the preflight's tests: what listgate judges is mail it
// did not write itself.
import Foundation

public struct Newsletter: Encodable, Sendable {
    public var from = "=?utf-8?b?44OL44Ol44O844K557eo6ZuG6YOo?= <news@example.org>"
    public var to: [String]
    public var cc: [String] = []
    public var bcc: [String] = []
    public var subject = "【週刊お知らせ】今月のお知らせ"
    public var listUnsubscribe: String?
    public var listUnsubscribePost = true
    public var text: String?
    public var html: String?
    public var textCTE = "8bit"
    public var htmlCTE = "8bit"
    public var charset = "utf-8"

    enum CodingKeys: String, CodingKey {
        case from, to, cc, bcc, subject, text, html, charset
        case listUnsubscribe = "list_unsubscribe"
        case listUnsubscribePost = "list_unsubscribe_post"
        case textCTE = "text_cte"
        case htmlCTE = "html_cte"
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A correct Japanese newsletter to `to`, whose unsubscribe link is `unsubscribeLink`,
    /// showing the sender's identity in both parts.
    public init(to: String, unsubscribeLink: String, legalName: String, postalAddress: String, contact: String) {
        self.to = [to]
        listUnsubscribe = "<\(unsubscribeLink)>"
        text = """
            田中様

            いつもご利用いただきありがとうございます。今月のお知らせをお届けします。

            ■ 新機能のご案内
            管理画面から、配信前の確認ができるようになりました。

            ――――――――――
            \(legalName)
            \(postalAddress)
            お問い合わせ: \(contact)
            配信停止: \(unsubscribeLink)
            """
        html = """
            <html><body><p>田中様</p><p>いつもご利用いただきありがとうございます。今月のお知らせをお届けします。</p>\
            <h2>新機能のご案内</h2><p>管理画面から、配信前の確認ができるようになりました。</p>\
            <hr><p>\(legalName)<br>\(postalAddress)<br><a href="\(contact)">お問い合わせ</a> \(contact)<br>\
            <a href="\(unsubscribeLink)">配信停止</a></p></body></html>
            """
    }

    /// The message's bytes, as the sender would hand them to its MTA.
    public func rendered() throws -> [UInt8] {
        let outcome = try ChildProcess.python("render_newsletter", input: try JSONEncoder().encode(self))
        guard outcome.status == 0 else { throw Failure(description: "render_newsletter.py failed: \(String(decoding: outcome.stderr, as: UTF8.self))") }
        let data = outcome.stdout
        return Array(data)
    }
}
