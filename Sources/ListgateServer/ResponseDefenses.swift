// What every answer carries and what no route has to remember: security headers, a body
// and an error log line on every 5xx, 404 for paths with an empty segment, and OPTIONS.
// These are router middleware, added before any route, so they wrap every route and the
// not-found answer alike (HEAD is Hummingbird's: the router is built with
// `.autoGenerateHeadEndpoints`, which answers HEAD with the GET answer's status and
// headers and no body).
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore
import Logging

enum SecurityHeaders {
    /// Pages run no script and load nothing; their one stylesheet is inline. Forms may post
    /// anywhere because their action may be an absolute URL on the base URL, which can be
    /// another host than the one the page came from (a proxy).
    static let pagePolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action *; frame-ancestors 'none'; base-uri 'none'"

    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    /// On every answer. Page URLs carry tokens, so no page tells any site its address,
    /// the company's own included (listgate often shares its origin, under a path), and a
    /// redirect's policy governs the request it leads to. The exception is the two list
    /// forms, whose URLs carry no token: their posts must name their origin, which a list
    /// with allowed origins checks (with `no-referrer` a browser sends `Origin: null`).
    static func add(to fields: inout HTTPFields, path: String) {
        fields[.xContentTypeOptions] = "nosniff"
        fields[referrerPolicy] = FormOriginMiddleware.formSlug(path) == nil ? "no-referrer" : "same-origin"
        if fields[.contentType]?.lowercased().hasPrefix("text/html") == true {
            fields[.contentSecurityPolicy] = pagePolicy
        }
    }
}

/// Puts `SecurityHeaders` on every answer, error answers included.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        SecurityHeaders.add(to: &response.headers, path: request.uri.path)
        return response
    }
}

/// No 5xx leaves without a short body (a page, or JSON for a client that prefers it) and
/// an error log line naming the route: never the path (it may hold a token) nor anything
/// the client sent. Errors a handler throws without an HTTP status become 500 here instead
/// of Hummingbird's empty one.
struct ServerErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pages: Pages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        var failure: (any Error)?
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
            failure = error
        } catch let error as StoreError {
            // A database that went away or did not answer in time (PostgreSQL): nothing was
            // acknowledged, and the same request can succeed once it is back.
            if case .unavailable = error {
                response = Response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
            } else {
                response = Response(status: .internalServerError)
            }
            failure = error
        } catch {
            response = Response(status: .internalServerError)
            failure = error
        }
        guard response.status.kind == .serverError else { return response }
        var metadata: Logger.Metadata = [
            "route": .string(context.endpointPath ?? "unmatched"), "method": .string(request.method.rawValue),
            "status": .stringConvertible(response.status.code),
        ]
        if let failure {
            metadata["error.type"] = .string(String(reflecting: type(of: failure)))
            metadata["error"] = .string(Self.loggable(failure))
        }
        context.logger.error("answered with a server error", metadata: metadata)
        if response.body.contentLength == 0 { response = body(for: response, request) }
        return response
    }

    private func body(for response: Response, _ request: Request) -> Response {
        var answer = Problem.serverError(response.status).response(to: request, pages: pages)
        for field in response.headers where ![.contentType, .contentLength].contains(field.name) {
            answer.headers[field.name] = field.value
        }
        return answer
    }

    /// An error's description for the log, with anything that looks like an address taken
    /// out and the length bounded: errors from below may quote what they were given.
    static func loggable(_ error: any Error) -> String {
        String(describing: error)
            .split(separator: " ", omittingEmptySubsequences: false)
            .map { $0.contains("@") ? "[redacted]" : String($0) }
            .joined(separator: " ")
            .prefix(300)
            .description
    }
}

/// The routes the server has, by path pattern, for the checks that need to know them.
struct RouteTable: Sendable {
    /// Segments of each path (`:name` and `*` stand for any one segment) with its methods.
    private let routes: [(segments: [Substring], methods: Set<HTTPRequest.Method>)]

    init(_ descriptions: [(path: String, method: HTTPRequest.Method)]) {
        var byPath: [String: Set<HTTPRequest.Method>] = [:]
        for route in descriptions { byPath[route.path, default: []].insert(route.method) }
        routes = byPath.map { (segments: $0.key.split(separator: "/"), methods: $0.value) }
    }

    /// Every method a path answers, HEAD wherever GET is, and OPTIONS; empty for a path
    /// no route has.
    func methods(forPath path: String) -> [String] {
        let segments = path.split(separator: "/")
        var methods = Set<HTTPRequest.Method>()
        for route in routes where route.segments.count == segments.count {
            let matches = zip(route.segments, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == "*" || pattern == segment
            }
            if matches { methods.formUnion(route.methods) }
        }
        guard !methods.isEmpty else { return [] }
        if methods.contains(.get) { methods.insert(.head) }
        methods.insert(.options)
        return methods.map(\.rawValue).sorted()
    }
}

/// Paths with an empty segment are nobody's (`//lists/news/subscribe` once rendered a form
/// whose relative action posted to the host `lists`); OPTIONS on a path the server has
/// answers 204 with `Allow`.
struct PathGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let path = String((request.head.path ?? "/").prefix { $0 != "?" })
        if Self.hasEmptySegment(path) { return Response(status: .notFound) }
        if request.method == .options {
            let allowed = routes.methods(forPath: path)
            guard !allowed.isEmpty else { return Response(status: .notFound) }
            return Response(status: .noContent, headers: [.allow: allowed.joined(separator: ", ")])
        }
        return try await next(request, context)
    }

    /// In a request target of the usual form (`/a/b`), `/` alone is fine and otherwise
    /// every segment between slashes has something in it. Other forms (`*`, absolute URLs)
    /// are left to the router.
    static func hasEmptySegment(_ path: String) -> Bool {
        guard path.hasPrefix("/"), path != "/" else { return false }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
