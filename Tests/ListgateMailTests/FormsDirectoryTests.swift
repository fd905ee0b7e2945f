// Specification of LISTGATE_FORMS_DIR for mail (README, "Your own wording"): the
// operator's template replaces the built-in one of its name, consent to it is recorded
// as its own wording, and a file that cannot be used is refused by name.
import Foundation
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("Own mail wording (LISTGATE_FORMS_DIR)")
struct MailFormsDirectoryTests {
    func refusal(_ forms: FormsFolder) -> String? {
        do {
            try AutoReplyComposer.load(formsDirectory: forms.path).check()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("the built-in mail templates pass the start-up check")
    func builtInPass() async throws {
        try await AutoReplyComposer.bundled().check()
    }

    @Test("a replaced mail template changes its kind's consent wording; the others keep theirs")
    func ownConsentVersion() async throws {
        let forms = try FormsFolder()
        let text = try FormsFolder.builtIn("mail/confirmation.ja.text.mustache")
        try forms.write("mail/confirmation.ja.text.mustache", text.replacingOccurrences(of: "お申し込み", with: "ご登録のお申し込み"))
        let own = try AutoReplyComposer.load(formsDirectory: forms.path)
        let builtIn = try await AutoReplyComposer.bundled()
        #expect(own.wording(of: .confirmation, locale: .ja) != builtIn.wording(of: .confirmation, locale: .ja))
        #expect(own.wording(of: .confirmation, locale: .en) == builtIn.wording(of: .confirmation, locale: .en))
        #expect(own.wording(of: .receipt, locale: .ja) == builtIn.wording(of: .receipt, locale: .ja))
    }

    @Test("a forms directory with no mail/ folder keeps every built-in mail template")
    func noMailFolder() async throws {
        let forms = try FormsFolder()
        try forms.write("pages/.keep", "")
        let own = try AutoReplyComposer.load(formsDirectory: forms.path)
        let builtIn = try await AutoReplyComposer.bundled()
        for kind in AutoReplyKind.allCases {
            #expect(own.wording(of: kind, locale: .ja) == builtIn.wording(of: kind, locale: .ja))
        }
    }

    @Test("a template saved as Shift_JIS (CP932) is refused by name: it is not UTF-8")
    func notUTF8() throws {
        let forms = try FormsFolder()
        // 「登録」 in CP932.
        try forms.write("mail/receipt.ja.subject.mustache", Data([0x93, 0x6F, 0x98, 0x5E]))
        let message = try #require(refusal(forms))
        #expect(message == "\(forms.path)/mail/receipt.ja.subject.mustache: is not UTF-8 text (save it as UTF-8)")
    }

    @Test("a misspelt file name is refused with the name it was probably meant to be")
    func misspelt() throws {
        let forms = try FormsFolder()
        try forms.write("mail/confirmaton.ja.text.mustache", "x")
        #expect(refusal(forms) == "\(forms.path)/mail/confirmaton.ja.text.mustache: listgate has no mail template of that name (did you mean confirmation.ja.text.mustache?)")
    }

    @Test("a page template put in mail/ is refused, saying where pages go")
    func wrongFolder() throws {
        let forms = try FormsFolder()
        try forms.write("mail/unsubscribe_request.ja.mustache", "x")
        #expect(refusal(forms) == "\(forms.path)/mail/unsubscribe_request.ja.mustache: listgate has no mail template of that name (page templates go in pages/)")
    }

    @Test("a template that does not parse is refused with its file, line and column")
    func unparsable() throws {
        let forms = try FormsFolder()
        try forms.write("mail/receipt.en.text.mustache", "{{% CONTENT_TYPE: TEXT}}\nBye from {{#list_name}}{{list_name}}{{/listname}}.\n")
        let message = try #require(refusal(forms))
        #expect(message.hasPrefix("\(forms.path)/mail/receipt.en.text.mustache:2:"), "\(message)")
        #expect(message.hasSuffix("cannot be read as a template: a section is closed with another name than it was opened with"), "\(message)")
    }

    @Test("a confirmation without its confirm link is refused by name")
    func missingLink() throws {
        let forms = try FormsFolder()
        let html = try FormsFolder.builtIn("mail/confirmation.ja.html.mustache")
        try forms.write("mail/confirmation.ja.html.mustache", html.replacingOccurrences(of: "{{confirm_url}}", with: "https://example.org/"))
        #expect(refusal(forms) == "\(forms.path)/mail/confirmation.ja.html.mustache: leaves out {{confirm_url}}, the link this mail is for")
    }

    @Test("a plain-text template that escapes for HTML is refused, saying how to fix it")
    func textEscapedForHTML() throws {
        let forms = try FormsFolder()
        let text = try FormsFolder.builtIn("mail/receipt.ja.text.mustache")
        try forms.write("mail/receipt.ja.text.mustache", text.replacingOccurrences(of: "{{% CONTENT_TYPE: TEXT}}\n", with: ""))
        let message = try #require(refusal(forms))
        #expect(message.hasPrefix("\(forms.path)/mail/receipt.ja.text.mustache: escapes values for HTML in plain text"))
        #expect(message.hasSuffix("begin it with {{% CONTENT_TYPE: TEXT}}"))
    }

    @Test("a subject on two lines is refused by name")
    func twoLineSubject() throws {
        let forms = try FormsFolder()
        try forms.write("mail/receipt.en.subject.mustache", "{{% CONTENT_TYPE: TEXT}}\nYou left\n{{list_name}}\n")
        let message = try #require(refusal(forms))
        #expect(message.hasPrefix("\(forms.path)/mail/receipt.en.subject.mustache: "), "\(message)")
    }

    @Test("a template that includes a template listgate does not have is refused by name")
    func unknownPartial() throws {
        let forms = try FormsFolder()
        try forms.write("mail/receipt.en.html.mustache", "<p>Bye</p>{{> footer}}")
        #expect(refusal(forms) == "\(forms.path)/mail/receipt.en.html.mustache: uses a template named \"footer\", and there is none")
    }

    @Test("a missing forms directory is refused by name")
    func missingDirectory() throws {
        let forms = try FormsFolder()
        let missing = forms.path + "/nowhere"
        #expect(throws: FormsError("forms directory \(missing): there is no such directory")) {
            try AutoReplyComposer.load(formsDirectory: missing)
        }
    }

    @Test("anything besides pages/, mail/ and a README in a forms directory is refused by name")
    func strayEntry() throws {
        let forms = try FormsFolder()
        try forms.write("README.md", "our wording")
        try forms.write("page/subscribe.ja.mustache", "x")
        #expect(refusal(forms) == "\(forms.path)/page: a forms directory holds only pages/ and mail/")
    }

    @Test("hidden files (an editor's swap file) are not looked at")
    func hiddenFiles() throws {
        let forms = try FormsFolder()
        try forms.write("mail/.receipt.ja.text.mustache.swp", "x")
        try forms.write(".DS_Store", "x")
        #expect(refusal(forms) == nil)
    }

    @Test("a byte order mark at the start of a template is dropped, not mailed")
    func byteOrderMark() throws {
        let forms = try FormsFolder()
        try forms.write("mail/receipt.ja.subject.mustache", Data([0xEF, 0xBB, 0xBF]) + Data("{{% CONTENT_TYPE: TEXT}}\n【{{list_name}}】停止しました\n".utf8))
        let composer = try AutoReplyComposer.load(formsDirectory: forms.path)
        let message = try composer.compose(AutoReply(
            kind: .receipt,
            list: MailingList(
                id: 1, slug: try ListSlug("news"), name: "週刊お知らせ", from: try Mailbox("news@example.org"), replyTo: nil,
                locale: .ja, allowedAddresses: [], createdAt: Date()),
            recipient: try Recipient(EmailAddress("taro@example.jp")),
            links: AutoReplyLinks(resubscribe: "https://lists.example.org/lists/news/subscribe")))
        #expect(message.subject == "【週刊お知らせ】停止しました")
    }
}
