// Specification of LISTGATE_FORMS_DIR for pages (README, "Your own wording"): every page
// is rendered at start with values like its route's, and a page that cannot do its job
// is refused naming the operator's file.
import Foundation
import ListgateCore
import ListgateMail
@testable import ListgateServer
import ListgateTestSupport
import Testing

@Suite("Own page wording (LISTGATE_FORMS_DIR)")
struct PageFormsDirectoryTests {
    func refusal(_ forms: FormsFolder) -> String? {
        do {
            try ListgateHTTPServer.checkPages(formsDirectory: forms.path)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("every page in Forms/pages but the layouts is rendered by the start-up check")
    func everyPageChecked() throws {
        let shipped = try FileManager.default.contentsOfDirectory(
            at: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Forms/pages"), includingPropertiesForKeys: nil)
            .map { $0.lastPathComponent }
            .filter { $0.hasSuffix(".mustache") && !$0.hasPrefix("layout") }
            .map { String($0.prefix { $0 != "." }) }
        #expect(Set(shipped) == Set(Pages.samples.map(\.page)))
    }

    @Test("the built-in pages pass the start-up check")
    func builtInPass() throws {
        try ListgateHTTPServer.checkPages(formsDirectory: nil)
    }

    @Test("a page without its form's action is refused by name")
    func pageWithoutAction() throws {
        let forms = try FormsFolder()
        let page = try FormsFolder.builtIn("pages/unsubscribe.en.mustache")
        try forms.write("pages/unsubscribe.en.mustache", page.replacingOccurrences(of: "{{action_url}}", with: "/"))
        #expect(refusal(forms) == "\(forms.path)/pages/unsubscribe.en.mustache: leaves out {{action_url}}, which this page is for")
    }

    @Test("a replaced layout that loses the page's content is named, not the built-in page")
    func layoutBlamed() throws {
        let forms = try FormsFolder()
        let layout = try FormsFolder.builtIn("pages/layout.ja.mustache")
        try forms.write("pages/layout.ja.mustache", layout.replacingOccurrences(of: "{{$main}}\n{{/main}}", with: "<p>工事中</p>"))
        #expect(refusal(forms)?.hasPrefix("\(forms.path)/pages/layout.ja.mustache: leaves out {{action_url}}") == true)
    }

    @Test("an empty page is refused by name")
    func emptyPage() throws {
        let forms = try FormsFolder()
        try forms.write("pages/blocked.ja.mustache", "\n")
        #expect(refusal(forms) == "\(forms.path)/pages/blocked.ja.mustache: the page comes out empty")
    }

    @Test("a page extending a layout that does not exist is refused by name")
    func unknownLayout() throws {
        let forms = try FormsFolder()
        try forms.write("pages/blocked.ja.mustache", "{{<layout.jp}}{{$main}}x{{/main}}{{/layout.jp}}")
        #expect(refusal(forms) == "\(forms.path)/pages/blocked.ja.mustache: uses a template named \"layout.jp\", and there is none")
    }

    @Test("a mail template put in pages/ is refused, saying where mail templates go")
    func mailInPages() throws {
        let forms = try FormsFolder()
        try forms.write("pages/receipt.ja.text.mustache", "x")
        #expect(refusal(forms) == "\(forms.path)/pages/receipt.ja.text.mustache: listgate has no page template of that name (mail templates go in mail/)")
    }
}
