// LISTGATE_FORMS_DIR / `serve --forms-dir` through the binary (README, "Your own
// wording"): the operator's page is what a browser gets, the operator's mail is what the
// SMTP server receives, and a template that cannot be used stops the start with one
// `error:` line naming its file.
import Foundation
import GRDB
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Testing

@Suite("Own wording through the binary", .serialized)
struct FormsDirectoryCommandTests {
    func workspace() throws -> Workspace {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "週刊お知らせ", "--from", "編集部 <news@example.org>")
        return workspace
    }

    @Test("a page in LISTGATE_FORMS_DIR is served in place of the built-in one; the others stay")
    func ownPage() async throws {
        let forms = try FormsFolder()
        let page = try FormsFolder.builtIn("pages/subscribe.ja.mustache")
        try forms.write("pages/subscribe.ja.mustache", page.replacingOccurrences(of: "<h1>「{{list_name}}」への登録</h1>", with: "<h1>「{{list_name}}」のご案内を受け取る</h1>"))
        let workspace = try workspace()
        let server = try await ServeProcess(workspace, arguments: [], environment: ["LISTGATE_FORMS_DIR": forms.path])
        let subscribe = try #require(await httpGet("\(server.base)/lists/news/subscribe"))
        #expect(subscribe.0 == 200)
        #expect(subscribe.1.contains("<h1>「週刊お知らせ」のご案内を受け取る</h1>"))
        let leave = try #require(await httpGet("\(server.base)/lists/news/unsubscribe"))
        #expect(leave.1.contains(#"<html lang="ja">"#) && leave.1.contains("週刊お知らせ"), "the built-in page, unchanged")
    }

    @Test("a mail template in --forms-dir is what the SMTP server receives, and consent records its wording")
    func ownMail() async throws {
        let forms = try FormsFolder()
        let text = try FormsFolder.builtIn("mail/confirmation.ja.text.mustache")
        try forms.write("mail/confirmation.ja.text.mustache", text.replacingOccurrences(
            of: "「{{list_name}}」への登録のお申し込みを受け付けました。", with: "「{{list_name}}」へのご登録、ありがとうございます。"))
        let workspace = try workspace()
        let sink = try SMTPSink.start()
        let server = try await ServeProcess(workspace, arguments: ["--smtp-url", sink.url, "--forms-dir", forms.path])
        #expect(await FormPoster().post("\(server.base)/lists/news/subscribe", ["email": "taro@example.jp"]) == 200)

        let message = try #require(try await sink.waitForMessages(count: 1, timeout: .seconds(10)).first)
        let mail = try MailInspector.inspect(message.data)
        #expect(mail.text?.contains("「週刊お知らせ」へのご登録、ありがとうございます。") == true)
        #expect(mail.text?.contains("お申し込みを受け付けました") == false)
        #expect(mail.html?.contains("「週刊お知らせ」への登録のお申し込みを受け付けました。") == true, "the HTML part is still the built-in one")
        let recorded = try await DatabaseQueue(path: workspace.db).read {
            try String.fetchOne($0, sql: "SELECT consent_version FROM events WHERE type = 'requested'")
        }
        let shown = try workspace.listgate("consent", "show", try #require(recorded))
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("「{{list_name}}」へのご登録、ありがとうございます。"), "the operator's wording is what was archived")
    }

    @Test("a template that does not parse stops the start with one error line naming the file")
    func brokenTemplate() throws {
        let forms = try FormsFolder()
        try forms.write("pages/confirm.ja.mustache", "{{<layout.ja}}{{$main}}<h1>{{#list_name}}</h1>{{/main}}{{/layout.ja}}")
        let workspace = try workspace()
        let result = try Binary.run(
            ["serve", "--db", workspace.db, "--port", String(try freePort()), "--forms-dir", forms.path], in: workspace.url)
        #expect(result.status != 0)
        #expect(result.lastErrorLine?.hasPrefix("error: \(forms.path)/pages/confirm.ja.mustache:1:") == true, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        #expect(!result.stdout.contains("serving"))
    }

    @Test("a template that parses but leaves out its form stops the start naming the file")
    func templateThatDoesNotRender() throws {
        let forms = try FormsFolder()
        try forms.write("pages/confirm.en.mustache", "{{<layout.en}}{{$main}}<p>Thanks!</p>{{/main}}{{/layout.en}}")
        let workspace = try workspace()
        let result = try workspace.listgate(
            "serve", "--port", String(try freePort()), environment: ["LISTGATE_FORMS_DIR": forms.path])
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: \(forms.path)/pages/confirm.en.mustache: leaves out {{action_url}}, which this page is for")
    }

    @Test("a misspelt file name stops the start naming the file (it would otherwise be silently ignored)")
    func unknownFileName() throws {
        let forms = try FormsFolder()
        try forms.write("pages/subscrib.ja.mustache", "x")
        let workspace = try workspace()
        let result = try workspace.listgate(
            "serve", "--port", String(try freePort()), environment: ["LISTGATE_FORMS_DIR": forms.path])
        #expect(result.status != 0)
        #expect(result.lastErrorLine
            == "error: \(forms.path)/pages/subscrib.ja.mustache: listgate has no page template of that name (did you mean subscribe.ja.mustache?)")
    }

    @Test("a misspelt extension stops the start naming the file")
    func unknownExtension() throws {
        let forms = try FormsFolder()
        try forms.write("mail/confirmation.ja.text.mustach", "x")
        let workspace = try workspace()
        let result = try workspace.listgate(
            "serve", "--port", String(try freePort()), environment: ["LISTGATE_FORMS_DIR": forms.path])
        #expect(result.status != 0)
        #expect(result.lastErrorLine
            == "error: \(forms.path)/mail/confirmation.ja.text.mustach: listgate has no mail template of that name (did you mean confirmation.ja.text.mustache?)")
    }

    @Test("a forms directory that does not exist stops the start naming it")
    func missingDirectory() throws {
        let workspace = try workspace()
        let missing = workspace.url.appendingPathComponent("our-forms").path
        let result = try workspace.listgate("serve", "--port", String(try freePort()), "--forms-dir", missing)
        #expect(result.status != 0)
        #expect(result.lastErrorLine == "error: forms directory \(missing): there is no such directory")
    }

    @Test("lists show --embed prints the operator's snippet from LISTGATE_FORMS_DIR")
    func ownEmbedSnippet() throws {
        let forms = try FormsFolder()
        let snippet = try FormsFolder.builtIn("pages/embed.ja.mustache")
        try forms.write("pages/embed.ja.mustache", "<!-- 自社サイト用 -->\n" + snippet)
        let workspace = try workspace()
        let result = try workspace.listgate("lists", "show", "news", "--embed", environment: ["LISTGATE_FORMS_DIR": forms.path])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("<!-- 自社サイト用 -->"))
    }
}
