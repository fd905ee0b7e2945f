// The start-up check of the hosted pages (README, "Your own wording"): every page, in
// every language, is rendered with values like those its route gives it. A page that
// comes out empty, or without the value it exists to carry (a form's action), stops
// `serve` with a line naming the operator's file, before a visitor meets it.
import ListgateCore
import ListgateMail

extension ListgateHTTPServer {
    /// Loads the pages as `serve` will (with `formsDirectory`, LISTGATE_FORMS_DIR) and
    /// renders each; throws `FormsError` naming the file of the first that fails.
    public static func checkPages(formsDirectory: String?) throws {
        try Pages.load(formsDirectory: formsDirectory).check()
    }
}

extension Pages {
    struct Sample {
        let page: String
        let values: [String: Any]
        /// Keys whose values the page must show; without them it cannot do its job.
        var required: [String] = []
    }

    /// Every page listgate renders, with values of the shapes its route passes. (A test
    /// checks that every page in Forms/pages but the layouts is here.)
    static var samples: [Sample] {
        let list = "A & B お知らせ"
        let subscribe = "https://lists.example.org/lists/sample/subscribe"
        let lists: [[String: Any]] = [
            ["list_name": list, "slug": "sample", "status_label": "配信中", "can_leave": true],
            ["list_name": "C", "slug": "c", "status_label": "停止済み", "can_leave": false],
        ]
        return [
            Sample(page: "subscribe", values: ["list_name": list, "action_url": "/lists/sample/subscribe"], required: ["action_url"]),
            Sample(
                page: "subscribe",
                values: ["list_name": list, "action_url": "/lists/sample/subscribe", "privacy_url": "https://www.example.org/privacy"],
                required: ["action_url"]),
            Sample(
                page: "subscribe",
                values: ["list_name": list, "action_url": "/lists/sample/subscribe", "error": "error", "email": "taro@example.jp",
                         "name": "山田"],
                required: ["action_url"]),
            Sample(page: "check_inbox", values: ["list_name": list]),
            Sample(page: "confirm", values: ["list_name": list, "action_url": "/confirm/SAMPLE"], required: ["action_url"]),
            Sample(page: "confirmed", values: ["list_name": list]),
            Sample(page: "already_confirmed", values: ["list_name": list]),
            Sample(page: "block", values: ["list_name": list, "action_url": "/block/SAMPLE"], required: ["action_url"]),
            Sample(page: "blocked", values: ["list_name": list]),
            Sample(page: "expired", values: ["list_name": list, "subscribe_url": subscribe]),
            Sample(page: "invalid", values: [:]),
            Sample(page: "closed", values: ["list_name": list]),
            Sample(page: "error", values: ["title": "SAMPLE-TITLE", "message": "SAMPLE-MESSAGE"], required: ["message"]),
            Sample(page: "embed", values: ["list_name": list, "action_url": subscribe], required: ["action_url"]),
            Sample(
                page: "embed", values: ["list_name": list, "action_url": subscribe, "privacy_url": "https://www.example.org/privacy"],
                required: ["action_url"]),
            Sample(page: "unsubscribe", values: ["list_name": list, "action_url": "/unsubscribe/SAMPLE"], required: ["action_url"]),
            Sample(
                page: "unsubscribe_request", values: ["list_name": list, "action_url": "/lists/sample/unsubscribe"],
                required: ["action_url"]),
            Sample(
                page: "unsubscribe_request",
                values: ["list_name": list, "action_url": "/lists/sample/unsubscribe", "error": "error", "email": "taro@example.jp"],
                required: ["action_url"]),
            Sample(page: "unsubscribe_sent", values: ["list_name": list]),
            Sample(page: "unsubscribed", values: ["list_name": list, "subscribe_url": subscribe]),
            Sample(
                page: "unsubscribed",
                values: ["list_name": list, "subscribe_url": subscribe, "already": "1", "preferences_url": "/preferences/SAMPLE"]),
            Sample(page: "preferences", values: ["action_url": "/preferences/SAMPLE", "lists": lists], required: ["action_url"]),
            Sample(
                page: "preferences", values: ["action_url": "/preferences/SAMPLE", "lists": lists, "done": "done"],
                required: ["action_url"]),
            Sample(page: "preferences", values: ["action_url": "/preferences/SAMPLE", "lists": [] as [Any], "none": true]),
        ]
    }

    func check() throws(FormsError) {
        for sample in Self.samples {
            for locale in ListLocale.allCases {
                let name = "\(sample.page).\(locale.rawValue)"
                guard library.getTemplate(named: name) != nil else {
                    throw FormsError("Forms/pages/\(name).mustache: missing from the build")
                }
                let page = html(sample.page, locale: locale, sample.values)
                if page.allSatisfy(\.isWhitespace) {
                    throw FormsError("\(templates.culprits(name)): the page comes out empty")
                }
                for key in sample.required where !page.contains(sample.values[key] as? String ?? "") {
                    throw FormsError("\(templates.culprits(name)): leaves out {{\(key)}}, which this page is for")
                }
            }
        }
    }
}
