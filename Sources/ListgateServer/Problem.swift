// What a visitor or a sender is told when a request cannot be done. Handlers and route
// middleware throw a `Problem`; `ProblemMiddleware` renders it, once for every route: a
// page in the list's language (or the browser's) for a browser, and
// `{"error": {"code", "message"}}` for a client whose Accept prefers JSON (AcceptHeader).
// The sender API's problems have no page: its clients read JSON, whatever they accept.
import HTTPTypes
import Hummingbird
import ListgateCore

struct Problem: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    /// The JSON answer's message, in English: developers read it, not visitors.
    let message: String
    /// What a browser is shown; nil: the JSON answer for everyone (the sender API).
    let page: Page?
    /// The page's language: the list's when the request names one; nil: the browser's
    /// preference (`Request.preferredLocale`).
    var locale: ListLocale?
    /// Fields the answer carries in either form (Retry-After, WWW-Authenticate).
    var headers: HTTPFields = [:]
    /// Numbers the JSON error object carries beside code and message (the actual `count`
    /// of a refused audience), for a client to act on without parsing the message.
    var facts: [String: Int] = [:]

    /// A title and a message, as the generic error page shows them.
    struct Wording: Sendable {
        let title: String
        let message: String
    }

    enum Page: Sendable {
        /// The generic page (`error`), worded in each language.
        case error(ja: Wording, en: Wording)
        /// A page of its own (`invalid`, `expired`, `closed`) with these values.
        case template(String, values: [String: String])

        func wording(_ locale: ListLocale) -> Wording? {
            guard case .error(let ja, let en) = self else { return nil }
            return locale == .ja ? ja : en
        }
    }

    /// A problem shown on the generic error page; its JSON message is the English one
    /// unless `message` says otherwise.
    init(_ status: HTTPResponse.Status, code: String, ja: Wording, en: Wording, message: String? = nil) {
        self.status = status
        self.code = code
        self.message = message ?? en.message
        page = .error(ja: ja, en: en)
    }

    init(_ status: HTTPResponse.Status, code: String, message: String, page: Page?, locale: ListLocale? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.page = page
        self.locale = locale
    }

    /// The same problem, its page in `locale` (the list's); nil keeps the browser's.
    func inLocale(_ locale: ListLocale?) -> Problem {
        var problem = self
        problem.locale = locale ?? self.locale
        return problem
    }

    /// The answer: the page for a browser, JSON for a client that prefers it (and for
    /// every client of a problem without a page).
    func response(to request: Request, pages: Pages) -> Response {
        var response: Response
        if let page, !request.wantsJSON {
            let locale = locale ?? request.preferredLocale
            switch page {
            case .error:
                let wording = page.wording(locale)!
                response = pages.render(
                    "error", locale: locale, ["title": wording.title, "message": wording.message], status: status)
            case .template(let name, let values):
                response = pages.render(name, locale: locale, values, status: status)
            }
        } else {
            response = JSONAnswer.error(code, message, status: status, facts: facts)
        }
        for field in headers { response.headers[field.name] = field.value }
        return response
    }
}

/// Hummingbird's own way for an error to answer for itself. `ProblemMiddleware` catches
/// every Problem before this is asked, with the pages at hand; should one ever get past
/// it, the client still gets the status and the JSON answer, which needs no template.
extension Problem: HTTPResponseError {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONAnswer.error(code, message, status: status, facts: facts)
        for field in headers { response.headers[field.name] = field.value }
        return response
    }
}

/// Renders every `Problem` a route or its group's middleware throws. Added after the
/// router's other middleware, so they see an answer like any other (FormOriginMiddleware
/// still adds `Vary: Origin` to it, SecurityHeadersMiddleware its headers).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let pages: Pages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response(to: request, pages: pages)
        }
    }
}

// MARK: The problems of the pages and forms

extension Problem {
    static let listNotFound = Problem(
        .notFound, code: "list_not_found",
        ja: Wording(title: "リストが見つかりません", message: "お探しのメーリングリストは存在しません。URLをご確認ください。"),
        en: Wording(title: "List not found", message: "There is no mailing list at this address. Please check the URL."))

    static let bodyTooLarge = Problem(
        .contentTooLarge, code: "body_too_large",
        ja: Wording(title: "送信内容が大きすぎます", message: "フォームの内容が大きすぎるため受け付けられませんでした。"),
        en: Wording(title: "Request too large", message: "The form data was too large to accept."))

    static let unsupportedMediaType = Problem(
        .unsupportedMediaType, code: "unsupported_media_type",
        ja: Wording(title: "送信形式に対応していません", message: "フォームから送信するか、JSON でお送りください。"),
        en: Wording(title: "Unsupported format", message: "Send the form as a web form or as JSON."))

    static let malformedBody = Problem(
        .badRequest, code: "malformed_body",
        ja: Wording(title: "送信内容を読み取れません", message: "フォームの内容を読み取れませんでした。もう一度お試しください。"),
        en: Wording(title: "Unreadable request", message: "The form data could not be read. Please try again."))

    static let originNotAllowed = Problem(
        .forbidden, code: "origin_not_allowed",
        ja: Wording(title: "このサイトからは送信できません", message: "このリストは、このウェブサイトのフォームからのお申し込みを受け付けていません。"),
        en: Wording(title: "Not accepted from this site", message: "This list does not accept requests from this website's form."))

    /// Over the per-IP limit (FormRateLimitMiddleware); try again in `retryAfter` seconds.
    static func tooManyRequests(retryAfter: Int) -> Problem {
        var problem = Problem(
            .tooManyRequests, code: "rate_limited",
            ja: Wording(title: "しばらくお待ちください", message: "短時間に多くの送信がありました。少し時間をおいてから、もう一度お試しください。"),
            en: Wording(title: "Please wait a moment", message: "Too many requests in a short time. Please try again in a little while."))
        problem.headers[.retryAfter] = String(retryAfter)
        return problem
    }

    /// A 5xx with no body of its own (ServerErrorMiddleware): the server failed, not the visitor.
    static func serverError(_ status: HTTPResponse.Status) -> Problem {
        Problem(
            status, code: "internal_error",
            ja: Wording(title: "ただいま処理できません", message: "サーバーで問題が発生しました。しばらくしてから、もう一度お試しください。"),
            en: Wording(
                title: "Something went wrong", message: "The server could not complete this request. Please try again in a little while."),
            message: "the server could not complete this request; please try again later")
    }

    /// A token link that is not one of ours (cut short, edited): the browser's language,
    /// since a broken token names no list.
    static func invalidLink(message: String = "this link is not valid; copy the whole link from the mail") -> Problem {
        Problem(.badRequest, code: "invalid_link", message: message, page: .template("invalid", values: [:]))
    }

    /// A confirm or block link past its time or already used: the page offers the list's
    /// subscribe form again.
    static func linkExpired(listName: String, subscribeURL: String, locale: ListLocale) -> Problem {
        Problem(
            .gone, code: "link_expired", message: "this link has expired or was already used; request a new mail",
            page: .template("expired", values: ["list_name": listName, "subscribe_url": subscribeURL]), locale: locale)
    }

    /// A closed list's subscribe form and its pending confirm links: nothing can join it
    /// any more (leaving still works, and the page says so).
    static func listClosed(listName: String, locale: ListLocale) -> Problem {
        Problem(
            .gone, code: "list_archived", message: "this list is closed: it takes no new subscriptions",
            page: .template("closed", values: ["list_name": listName]), locale: locale)
    }
}

// MARK: The problems of the sender API (JSON only)

extension Problem {
    /// No bearer token, or one that grants nothing. RFC 6750 §3: the challenge names the scheme.
    static let unauthorized: Problem = {
        var problem = Problem(.unauthorized, code: "unauthorized", message: "a valid bearer token is required", page: nil)
        problem.headers[.wwwAuthenticate] = "Bearer"
        return problem
    }()

    static let forbidden = Problem(.forbidden, code: "forbidden", message: "this token may not read that list", page: nil)

    /// A valid token without the scope its route needs; the challenge names the scope
    /// (RFC 6750 §3.1), and so does the message, for the developer reading it.
    static func insufficientScope(_ scope: SenderScope) -> Problem {
        var problem = Problem(
            .forbidden, code: "insufficient_scope",
            message: "this token lacks the scope \(scope.rawValue); create one with `listgate tokens create --scope \(scope.rawValue)`",
            page: nil)
        problem.headers[.wwwAuthenticate] = "Bearer error=\"insufficient_scope\", scope=\"\(scope.rawValue)\""
        return problem
    }

    /// `what`: `list` or `snapshot`.
    static func notFound(_ what: String) -> Problem {
        Problem(.notFound, code: "\(what)_not_found", message: "no such \(what)", page: nil)
    }

    static let listArchived = Problem(
        .conflict, code: "list_archived", message: "this list is archived: it takes no new snapshots", page: nil)

    static let snapshotExpired = Problem(
        .gone, code: "snapshot_expired",
        message: "this snapshot's members were deleted after the retention period; take a new snapshot", page: nil)

    static let sinceRequired = Problem(
        .badRequest, code: "since_required", message: "give since=RFC3339 time, e.g. 2026-11-21T00:00:00Z", page: nil)

    static let invalidSince = Problem(
        .badRequest, code: "invalid_since", message: "since must be an RFC 3339 time, e.g. 2026-11-21T00:00:00Z", page: nil)
}
