// Hosted pages from Forms/pages (Mustache; `{{value}}` is HTML-escaped), and the JSON
// answers of the same routes. What the error pages say is in Problem.swift.
import Foundation
import Hummingbird
import ListgateCore
import ListgateMail
import Mustache
import Synchronization

struct Pages: Sendable {
    let templates: TemplateSet
    var library: MustacheLibrary { templates.library }
    /// Pages that are the same for every visitor (they show only the list's own values)
    /// are rendered once: the "check your inbox" answer is sent for every subscribe post.
    private let shared = SharedPages()
    /// The base URL's path (LinkBuilder.basePath): put before a route's own path in the
    /// forms and links a page writes, since the proxy strips it from what listgate sees.
    var basePath = ""

    static func bundled() async throws -> Pages {
        try load(formsDirectory: nil)
    }

    /// The pages of `Forms/pages`, each replaced by the operator's file of the same name
    /// in `formsDirectory/pages/` (LISTGATE_FORMS_DIR).
    static func load(formsDirectory: String?) throws -> Pages {
        guard let directory = Bundle.module.url(forResource: "pages", withExtension: nil) else {
            throw DomainError.listNotFound("Forms/pages (missing from the build)")
        }
        return Pages(templates: try TemplateSet.load(builtIn: directory, folder: "pages", formsDirectory: formsDirectory))
    }

    /// The pages' part of the consent wording: the subscribe page a person fills in and
    /// the page where they press the confirm button, each with the layout it uses.
    var consentWording: [ListLocale: [ConsentWording.Part]] {
        Dictionary(uniqueKeysWithValues: ListLocale.allCases.map { locale in
            (locale, ["subscribe", "confirm"].flatMap { templates.wording(of: "\($0).\(locale.rawValue)") })
        })
    }

    func render(_ page: String, locale: ListLocale, _ values: [String: String] = [:], status: HTTPResponse.Status = .ok)
        -> Response
    {
        Self.response(ByteBuffer(string: html(page, locale: locale, values)), status: status)
    }

    /// `render` for a page whose values are the list's own, never the visitor's: the
    /// bytes are kept and sent again to everyone who gets this page for this list.
    func renderShared(_ page: String, locale: ListLocale, _ values: [String: String]) -> Response {
        let key = ([page, locale.rawValue] + values.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
            .joined(separator: "\u{1F}")
        return Self.response(shared.body(for: key) { ByteBuffer(string: html(page, locale: locale, values)) }, status: .ok)
    }

    /// Every page is rendered here, so every value, however deeply nested, passes
    /// `EscapableText` before Mustache escapes it.
    func html(_ page: String, locale: ListLocale, _ values: [String: Any]) -> String {
        library.render(Self.escapable(values), withTemplate: "\(page).\(locale.rawValue)") ?? "<!DOCTYPE html><title>listgate</title>"
    }

    private static func escapable(_ value: Any) -> Any {
        switch value {
        case let text as String: EscapableText.make(text)
        case let object as [String: Any]: object.mapValues(escapable)
        case let array as [Any]: array.map(escapable)
        default: value
        }
    }

    static func response(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: body))
    }

    /// Where a page's form posts: back to the route that served it, as the visitor's
    /// browser addresses it (under the base URL's path).
    func action(_ request: Request) -> String { basePath + request.uri.path }

    /// 303 to a page of the company's site after a successful HTML form post.
    static func redirect(to page: SitePageURL) -> Response {
        Response(status: .seeOther, headers: [.location: page.text, .cacheControl: "no-store"])
    }
}

/// Rendered pages by key, at most `limit` of them (then it starts over: lists are few).
final class SharedPages: Sendable {
    private let pages = Mutex<[String: ByteBuffer]>([:])
    private let limit = 256

    func body(for key: String, render: () -> ByteBuffer) -> ByteBuffer {
        if let body = pages.withLock({ $0[key] }) { return body }
        let body = render()
        pages.withLock { pages in
            if pages.count >= limit { pages.removeAll() }
            pages[key] = body
        }
        return body
    }
}

extension Request {
    /// JSON when the client's `Accept` prefers it (see `AcceptHeader`); HTML otherwise
    /// (browsers, form posts, no header).
    var wantsJSON: Bool {
        AcceptHeader(headers[values: .accept]).prefersJSON
    }

    /// For pages that belong to no list: English if the browser prefers it, else Japanese.
    var preferredLocale: ListLocale {
        let first = headers[.acceptLanguage]?.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return first?.hasPrefix("en") == true ? .en : .ja
    }
}

/// JSON answers: `{"status": …}` on success, `{"error": {"code", "message"}}` on failure.
enum JSONAnswer {
    static func status(_ status: String, code: HTTPResponse.Status = .ok) -> Response {
        body(["status": status], code: code)
    }

    static func error(_ code: String, _ message: String, status: HTTPResponse.Status, facts: [String: Int] = [:]) -> Response {
        var error: [String: Any] = facts
        error["code"] = code
        error["message"] = message
        return body(["error": error], code: status)
    }

    static func body(_ object: Any, code: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(
            status: code, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The copy-paste HTML form for embedding a list's subscribe form on another site
/// (`listgate lists show SLUG --embed`).
public enum EmbedSnippet {
    /// `formsDirectory`: LISTGATE_FORMS_DIR, whose `pages/embed.LOCALE.mustache` replaces the built-in snippet.
    public static func html(for list: MailingList, baseURL: String, formsDirectory: String? = nil) async throws -> String {
        let pages = try Pages.load(formsDirectory: formsDirectory)
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var values = ["list_name": list.name, "action_url": "\(base)/lists/\(list.slug)/subscribe"]
        if let privacy = list.sitePages.privacy { values["privacy_url"] = privacy.text }
        return pages.html("embed", locale: list.locale, values)
    }
}
