// Which websites may post a list's forms (README, "On the company's site"). A list with
// allowed origins (`--allow-origin`) takes posts to its two forms — subscribe and
// unsubscribe-by-address — only from those origins and listgate's own, and lets exactly
// those origins read the answer of a background `fetch()` (CORS). The origin of a post is
// its `Origin` header or, when a browser sent none, its `Referer`'s; a post with neither,
// or with `Origin: null`, cannot show where it came from and is refused. (listgate's own
// pages send a real Origin: their Referrer-Policy is `same-origin`, see SecurityHeaders.)
// A list without allowed origins takes posts from anywhere and answers no CORS.
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore

struct FormOriginMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let intake: Intake
    let pages: Pages
    /// The origin of the base URL: listgate's own pages may always post.
    let ownOrigin: String?

    init(intake: Intake, pages: Pages) {
        self.intake = intake
        self.pages = pages
        ownOrigin = Self.origin(ofURL: intake.baseURL)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard request.method == .post || request.method == .options, let slug = Self.formSlug(request.uri.path),
              let list = try await intake.listIfExists(slug), !list.allowedOrigins.isEmpty
        else { return try await next(request, context) }

        let origin = Self.origin(of: request)
        // Stored origins are read as browsers write them too: one an older listgate or a
        // hand edit left as `https://WWW.Example.org:443` still matches.
        let sites = Set(list.allowedOrigins.compactMap { try? WebOrigin($0).serialized })
        let sitesOrigin = origin.flatMap { sites.contains($0) ? $0 : nil }
        let isAllowed = sitesOrigin != nil || (origin != nil && origin == ownOrigin)

        if request.method == .options {
            // A plain OPTIONS is answered by PathGuardMiddleware with `Allow`.
            guard request.headers[.accessControlRequestMethod] != nil else { return try await next(request, context) }
            guard let sitesOrigin, request.headers[.accessControlRequestMethod] == "POST" else {
                return Response(status: .forbidden, headers: [.vary: "Origin", .cacheControl: "no-store"])
            }
            var response = Response(status: .noContent, headers: [.vary: "Origin"])
            Self.allow(sitesOrigin, in: &response.headers)
            response.headers[.accessControlAllowMethods] = "POST"
            response.headers[.accessControlAllowHeaders] = "Content-Type, Accept"
            response.headers[.accessControlMaxAge] = "600"
            return response
        }

        var response: Response
        if isAllowed {
            response = try await next(request, context)
        } else {
            response = Problem.originNotAllowed.inLocale(list.locale).response(to: request, pages: pages)
        }
        // The answer depends on the Origin: caches must not hand one site's to another.
        response.headers[.vary] = "Origin"
        if let sitesOrigin { Self.allow(sitesOrigin, in: &response.headers) }
        return response
    }

    static func allow(_ origin: String, in headers: inout HTTPFields) {
        headers[.accessControlAllowOrigin] = origin
    }

    /// The slug of `/lists/{slug}/subscribe` or `/lists/{slug}/unsubscribe`, else nil.
    static func formSlug(_ path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 4, segments[0].isEmpty, segments[1] == "lists",
              segments[3] == "subscribe" || segments[3] == "unsubscribe"
        else { return nil }
        return String(segments[2])
    }

    /// The request's origin as browsers write it, from `Origin` or else `Referer`; nil when
    /// neither names one (`Origin: null` names none).
    static func origin(of request: Request) -> String? {
        if let header = request.headers[.origin] {
            return try? WebOrigin(header).serialized
        }
        return request.headers[.referer].flatMap(origin(ofURL:))
    }

    /// `scheme://host[:port]` of a URL, normalised as WebOrigin does.
    static func origin(ofURL text: String) -> String? {
        guard let url = URLComponents(string: text), let scheme = url.scheme, let host = url.percentEncodedHost,
              !host.isEmpty
        else { return nil }
        return try? WebOrigin("\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")").serialized
    }
}
