// Leaving: the unsubscribe link (page button or RFC 8058 one-click) and the
// unsubscribe-by-address form. As with subscribing, answers never say who is on a list,
// and free text typed into the form is never mailed to anyone.
import CoreMetrics
import Foundation
import Hummingbird
import ListgateCore

struct UnsubscribeRoutes: Sendable {
    let unsubscribes: Unsubscribes
    let intake: Intake
    let desk: IntakeDeskService
    let pages: Pages

    /// `listForms`: the group of the list forms' posts (`lists/:slug`), which carries their rate limit.
    func addRoutes(to router: Router<AppRequestContext>, listForms: RouterGroup<AppRequestContext>) {
        router.get("unsubscribe/:token") { request, context in try await page(request, context) }
        router.post("unsubscribe/:token") { request, context in try await unsubscribe(request, context) }
        router.get("lists/:slug/unsubscribe") { request, context in try await requestPage(request, context) }
        listForms.post("unsubscribe") { request, context in try await requestLink(request, context) }
    }

    func page(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        switch try await unsubscribes.page(for: context.parameters.require("token")) {
        case .ready(_, let name, let locale):
            // GET never unsubscribes: mail scanners open links too.
            return pages.render("unsubscribe", locale: locale, ["list_name": name, "action_url": pages.action(request)])
        case .used(let slug, let name, let locale), .expired(let slug, let name, let locale),
             // Only confirm links are told these two; an unsubscribe link works on a closed list.
             .alreadyConfirmed(let slug, let name, let locale), .listArchived(let slug, let name, let locale):
            return try await done(request, slug: slug, name: name, locale: locale, already: true)
        case .invalid:
            throw Problem.invalidLink()
        }
    }

    func unsubscribe(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        var request = request
        let body = (try? await request.collectBody(upTo: FormLimits.bodyBytes)).map { Array($0.readableBytesView) } ?? []
        // RFC 8058: the mailbox provider POSTs `List-Unsubscribe=One-Click`, URL-encoded or multipart.
        let oneClick = OneClickUnsubscribe.isRequested(body: body, contentType: request.headers[.contentType])
        let origin = RequestOrigin(
            route: oneClick ? "one-click:/unsubscribe" : "form:/unsubscribe", clientIP: context.clientIP,
            userAgent: request.headers[.userAgent])
        let outcome = try await unsubscribes.unsubscribe(
            token: context.parameters.require("token"), oneClick: oneClick, origin: origin)
        Counter(label: "listgate_unsubscribes_total", dimensions: [("route", oneClick ? "one-click" : "page"), ("outcome", Self.label(outcome))]).increment()
        // Only the HTML page shows the preferences link (for this link's list alone).
        let preferencesURL = oneClick || request.wantsJSON
            ? nil
            : unsubscribes.preferencesURL(forUnsubscribeToken: try context.parameters.require("token"))
        let (slug, name, locale, already): (String, String, ListLocale, Bool)
        switch outcome {
        case .unsubscribed(let listSlug, let listName, let listLocale): (slug, name, locale, already) = (listSlug, listName, listLocale, false)
        case .alreadyUnsubscribed(let listSlug, let listName, let listLocale): (slug, name, locale, already) = (listSlug, listName, listLocale, true)
        case .invalid: throw Problem.invalidLink()
        }
        // A person pressed the page's button: the company's own page, when it has one. A
        // one-click POST comes from a mail provider, which follows no redirect.
        if !oneClick, !request.wantsJSON, let page = try await intake.listIfExists(slug)?.sitePages.unsubscribed {
            return Pages.redirect(to: page)
        }
        return try await done(request, slug: slug, name: name, locale: locale, already: already, preferencesURL: preferencesURL)
    }

    func requestPage(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let list = try await intake.listIfExists(context.parameters.require("slug")) else { throw Problem.listNotFound }
        return pages.render("unsubscribe_request", locale: list.locale, ["list_name": list.name, "action_url": pages.action(request)])
    }

    func requestLink(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let list = try await intake.listIfExists(context.parameters.require("slug")) else { throw Problem.listNotFound }
        let form: SubscribeForm
        switch await SubscribeForm.decode(request) {
        case .success(let decoded): form = decoded
        case .failure(let problem): throw problem.inLocale(list.locale)
        }
        if form.website?.isEmpty == false { return sent(request, list: list) }  // honeypot: same answer, nothing done
        let origin = RequestOrigin(
            route: "form:/lists/\(list.slug)/unsubscribe", clientIP: context.clientIP, userAgent: request.headers[.userAgent])
        do {
            // Recorded only; the IntakeDesk decides after the answer (see FormRoutes).
            try await unsubscribes.receiveLinkRequest(list: list, email: form.email ?? "", origin: origin)
            desk.ring()
        } catch let error as DomainError {
            let (code, message) = FormRoutes.explain(error, locale: list.locale)
            if request.wantsJSON { return JSONAnswer.error(code, message, status: .unprocessableContent) }
            return pages.render(
                "unsubscribe_request", locale: list.locale,
                ["list_name": list.name, "action_url": pages.action(request), "error": message,
                 "email": String((form.email ?? "").prefix(254))],
                status: .unprocessableContent)
        }
        return sent(request, list: list)
    }

    /// The one answer to every acceptable unsubscribe-by-address post.
    func sent(_ request: Request, list: MailingList) -> Response {
        request.wantsJSON
            ? JSONAnswer.status("pending", code: .accepted)
            : pages.render("unsubscribe_sent", locale: list.locale, ["list_name": list.name])
    }

    func done(_ request: Request, slug: String, name: String, locale: ListLocale, already: Bool, preferencesURL: String? = nil)
        async throws -> Response
    {
        if request.wantsJSON { return JSONAnswer.status(already ? "already_unsubscribed" : "unsubscribed") }
        var values = ["list_name": name]
        // "Subscribe again" only while the list takes subscriptions: a closed one answers 410.
        if let list = try await intake.listIfExists(slug), !list.isArchived {
            values["subscribe_url"] = intake.subscribeURL(list.slug)
        }
        if already { values["already"] = "1" }
        if let preferencesURL { values["preferences_url"] = preferencesURL }
        return pages.render("unsubscribed", locale: locale, values)
    }

    static func label(_ outcome: UnsubscribeOutcome) -> String {
        switch outcome {
        case .unsubscribed: "unsubscribed"
        case .alreadyUnsubscribed: "already"
        case .invalid: "invalid"
        }
    }
}
