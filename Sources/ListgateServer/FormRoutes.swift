// The public form routes: subscribe, confirm and "not me" (block). Thin: decode,
// call the Intake, render. They hold an Intake and nothing else from the core, so no
// route here can read the subscriber list or mail anyone but the submitted address.
//
// No enumeration (invariant 7, docs/security.md): a valid subscribe post gets the same
// answer, after the same work, whether the address is new, pending, active, unsubscribed
// or suppressed, and whether or not a mail is sent. Nothing counts outcomes per address
// state either: /metrics would otherwise answer "is this address subscribed?".
import CoreMetrics
import Foundation
import Hummingbird
import ListgateCore
import Logging

struct FormRoutes: Sendable {
    let intake: Intake
    let desk: IntakeDeskService
    let pages: Pages

    /// `listForms`: the group of the list forms' posts (`lists/:slug`), which carries their rate limit.
    func addRoutes(to router: Router<AppRequestContext>, listForms: RouterGroup<AppRequestContext>) {
        router.get("lists/:slug/subscribe") { request, context in try await subscribePage(request, context) }
        listForms.post("subscribe") { request, context in try await subscribe(request, context) }
        router.get("confirm/:token") { request, context in try await tokenPage(request, context, purpose: .confirm) }
        router.post("confirm/:token") { request, context in try await confirm(request, context) }
        router.get("block/:token") { request, context in try await tokenPage(request, context, purpose: .block) }
        router.post("block/:token") { request, context in try await block(request, context) }
    }

    // MARK: Subscribe

    func subscribePage(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let list = try await intake.listIfExists(context.parameters.require("slug")) else { throw Problem.listNotFound }
        if list.isArchived { throw Problem.listClosed(listName: list.name, locale: list.locale) }
        return pages.render("subscribe", locale: list.locale, subscribeValues(list, request))
    }

    func subscribe(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let list = try await intake.listIfExists(context.parameters.require("slug")) else { throw Problem.listNotFound }
        // The same for every address, before the body is read: a closed list says so to all.
        if list.isArchived { throw Problem.listClosed(listName: list.name, locale: list.locale) }
        // Which websites may post here is FormOriginMiddleware's to decide, before this runs.
        let form: SubscribeForm
        switch await SubscribeForm.decode(request) {
        case .success(let decoded): form = decoded
        case .failure(let problem): throw problem.inLocale(list.locale)
        }
        // A filled honeypot is a bot: answer exactly as for a person, do nothing.
        if let trap = form.website, !trap.isEmpty { return accepted(request, list: list) }
        let origin = RequestOrigin(
            route: "form:/lists/\(list.slug)/subscribe", clientIP: context.clientIP,
            userAgent: request.headers[.userAgent])
        do {
            // Recorded only: what the post causes is decided by the IntakeDesk after the
            // answer, so this path is the same for every address (no timing to measure).
            try await intake.receiveSubscription(list: list, email: form.email ?? "", name: form.name, origin: origin)
            desk.ring()
            return accepted(request, list: list)
        } catch let error as DomainError {
            return invalidForm(request, list: list, form: form, error: error)
        }
    }

    /// The subscribe page's values: the list, where the form posts, the privacy policy.
    func subscribeValues(_ list: MailingList, _ request: Request) -> [String: String] {
        var values = ["list_name": list.name, "action_url": pages.action(request)]
        if let privacy = list.sitePages.privacy { values["privacy_url"] = privacy.text }
        return values
    }

    /// The one answer to every acceptable subscribe post: the company's thanks page when
    /// the list names one, otherwise listgate's "check your inbox".
    func accepted(_ request: Request, list: MailingList) -> Response {
        if request.wantsJSON { return JSONAnswer.status("pending", code: .accepted) }
        if let thanks = list.sitePages.thanks { return Pages.redirect(to: thanks) }
        return pages.renderShared("check_inbox", locale: list.locale, ["list_name": list.name])
    }

    func invalidForm(_ request: Request, list: MailingList, form: SubscribeForm, error: DomainError) -> Response {
        let (code, message) = Self.explain(error, locale: list.locale)
        if request.wantsJSON { return JSONAnswer.error(code, message, status: .unprocessableContent) }
        var values = subscribeValues(list, request)
        values["error"] = message
        values["email"] = String((form.email ?? "").prefix(254))
        values["name"] = String((form.name ?? "").prefix(200))
        return pages.render("subscribe", locale: list.locale, values, status: .unprocessableContent)
    }

    static func explain(_ error: DomainError, locale: ListLocale) -> (code: String, message: String) {
        switch (error, locale) {
        case (.invalidName, .ja): ("invalid_name", "お名前は改行を含まない200文字以内で入力してください。")
        case (.invalidName, .en): ("invalid_name", "Please enter a name of at most 200 characters on one line.")
        case (.undeliverableAddress, .ja): ("invalid_email", "このメールアドレスにはお送りできません。別のアドレスをお試しください。")
        case (.undeliverableAddress, .en): ("invalid_email", "We cannot send mail to this address. Please try another one.")
        case (_, .ja): ("invalid_email", "メールアドレスの形式が正しくありません。ご確認のうえ、もう一度入力してください。")
        case (_, .en): ("invalid_email", "This does not look like a valid email address. Please check it and try again.")
        }
    }

    // MARK: Confirm and block

    func tokenPage(_ request: Request, _ context: AppRequestContext, purpose: TokenPurpose) async throws -> Response {
        let token = try context.parameters.require("token")
        let page = try await intake.page(for: token, purpose: purpose)
        switch page {
        case .ready(_, let name, let locale):
            // GET never changes anything: link scanners open links, people press buttons.
            return pages.render(purpose == .confirm ? "confirm" : "block", locale: locale,
                                ["list_name": name, "action_url": pages.action(request)])
        case .alreadyConfirmed(_, let name, let locale):
            return alreadyConfirmed(request, name: name, locale: locale)
        case .used(let slug, let name, let locale), .expired(let slug, let name, let locale):
            throw expired(slug: slug, name: name, locale: locale)
        case .listArchived(_, let name, let locale):
            throw Problem.listClosed(listName: name, locale: locale)
        case .invalid:
            throw Problem.invalidLink()
        }
    }

    func confirm(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let origin = RequestOrigin(route: "form:/confirm", clientIP: context.clientIP, userAgent: request.headers[.userAgent])
        let outcome = try await intake.confirm(token: context.parameters.require("token"), origin: origin)
        let label = Self.label(outcome)
        Counter(label: "listgate_confirmations_total", dimensions: [("outcome", label)]).increment()
        switch outcome {
        case .confirmed(let slug, let name, let locale):
            if request.wantsJSON { return JSONAnswer.status("subscribed") }
            if let page = try await intake.listIfExists(slug)?.sitePages.confirmed { return Pages.redirect(to: page) }
            return pages.render("confirmed", locale: locale, ["list_name": name])
        case .alreadyConfirmed(_, let name, let locale):
            return alreadyConfirmed(request, name: name, locale: locale)
        case .used(let slug, let name, let locale), .expired(let slug, let name, let locale):
            throw expired(slug: slug, name: name, locale: locale)
        case .listArchived(_, let name, let locale):
            throw Problem.listClosed(listName: name, locale: locale)
        case .invalid:
            throw Problem.invalidLink()
        }
    }

    /// The outcome as `listgate_confirmations_total` counts it.
    static func label(_ outcome: ConfirmOutcome) -> String {
        switch outcome {
        case .confirmed: "confirmed"
        case .alreadyConfirmed: "already_confirmed"
        case .used, .expired: "expired"
        case .listArchived: "list_archived"
        case .invalid: "invalid"
        }
    }

    func block(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let origin = RequestOrigin(route: "form:/block", clientIP: context.clientIP, userAgent: request.headers[.userAgent])
        switch try await intake.block(token: context.parameters.require("token"), origin: origin) {
        case .blocked(let name, let locale):
            return request.wantsJSON
                ? JSONAnswer.status("blocked")
                : pages.render("blocked", locale: locale, ["list_name": name])
        case .invalid:
            throw Problem.invalidLink()
        }
    }

    /// A confirm link opened or pressed again after it did its work: nothing is wrong,
    /// so the page says so (not "expired", which would send the person to subscribe again).
    func alreadyConfirmed(_ request: Request, name: String, locale: ListLocale) -> Response {
        request.wantsJSON
            ? JSONAnswer.status("already_confirmed")
            : pages.render("already_confirmed", locale: locale, ["list_name": name])
    }

    /// 410 for a used or expired link, offering the list's subscribe form again.
    func expired(slug: String, name: String, locale: ListLocale) -> Problem {
        let subscribeURL = (try? ListSlug(slug)).map { intake.subscribeURL($0) } ?? "/"
        return .linkExpired(listName: name, subscribeURL: subscribeURL, locale: locale)
    }
}

/// The subscribe form's fields, from a URL-encoded or JSON body.
struct SubscribeForm: Decodable, Sendable {
    var email: String?
    var name: String?
    /// The honeypot: hidden from people, filled by bots.
    var website: String?

    static func decode(_ request: Request) async -> Result<SubscribeForm, Problem> {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: FormLimits.bodyBytes) } catch { return .failure(.bodyTooLarge) }
        return decode(body: buffer.readableBytesView, contentType: request.headers[.contentType])
    }

    /// The body's bytes to fields: everything after the body is read, and what the
    /// fuzzer (Fuzz/) drives.
    static func decode(body: some Collection<UInt8>, contentType: String?) -> Result<SubscribeForm, Problem> {
        // Invalid UTF-8 is refused, not repaired: a repaired address is not what was typed.
        guard let text = String(validating: body, as: UTF8.self) else { return .failure(.malformedBody) }
        let type = contentType?.lowercased() ?? ""
        let form: SubscribeForm
        do {
            if type.hasPrefix("application/json") {
                form = try JSONDecoder().decode(SubscribeForm.self, from: Data(text.utf8))
            } else if type.hasPrefix("application/x-www-form-urlencoded") || type.isEmpty {
                form = try URLEncodedFormDecoder().decode(SubscribeForm.self, from: text)
            } else {
                return .failure(.unsupportedMediaType)
            }
        } catch {
            return .failure(.malformedBody)
        }
        // Percent-escapes can still smuggle invalid UTF-8 (decoded as U+FFFD).
        let fields = [form.email, form.name, form.website].compactMap { $0 }
        if fields.contains(where: { $0.unicodeScalars.contains("\u{FFFD}") }) { return .failure(.malformedBody) }
        if fields.contains(where: { $0.utf8.count > 4096 }) { return .failure(.bodyTooLarge) }
        return .success(form)
    }
}
