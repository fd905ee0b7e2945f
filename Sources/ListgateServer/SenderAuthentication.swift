// Who is calling the sender API, decided once per request before any of its routes runs
// (README, invariant 4: fail closed). Hummingbird's two steps, as hummingbird-auth takes
// them: `SenderAuthenticator`, a middleware on the API's group, looks the bearer token
// up (that needs the database, so it cannot happen in a context's initialiser); then
// `SenderRequestContext`, the context of every API route, refuses a request the token
// did not authenticate with 401. A handler holding that context holds a token's access,
// so none of them can forget to check.
//
// Scopes (what a token may do, not only which list it reads): the context carries them
// with the access, and `RequiredScope`, a middleware on each sub-group of the API's
// routes, refuses a token without the group's scope with 403 `insufficient_scope`.
import Hummingbird
import ListgateCore
import Logging

/// Resolves `Authorization: Bearer …` to the access it grants, for the context below. A
/// missing, malformed or unknown token leaves it unresolved; this refuses nothing itself.
struct SenderAuthenticator: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: any SenderTokenStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.senderAccess = try await Self.access(request.headers[.authorization], store: store)
        if let access = context.senderAccess {
            // Each use is logged by token id, never by the token itself.
            context.logger.info(
                "sender API request", metadata: ["token_id": "\(access.tokenID)", "route": "\(context.endpointPath ?? "")"])
        }
        return try await next(request, context)
    }

    static func access(_ authorization: String?, store: any SenderTokenStore) async throws -> SenderAccess? {
        // The scheme name is case-insensitive (RFC 7235 §2.1).
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(authorization.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        return try await store.senderAccess(token: token)
    }
}

/// The context of every sender API route: only made for a request whose token the
/// authenticator resolved; any other is answered `Problem.unauthorized` (401 with
/// `WWW-Authenticate: Bearer`) before a handler runs.
struct SenderRequestContext: ChildRequestContext {
    typealias ParentContext = AppRequestContext
    var coreContext: CoreRequestContextStorage
    /// The list the token reads, and the token's id (for the ledger and the logs).
    let access: SenderAccess

    init(context: AppRequestContext) throws {
        guard let access = context.senderAccess else { throw Problem.unauthorized }
        coreContext = context.coreContext
        self.access = access
    }

    /// As on every route: nothing the API reads has a body near this size.
    var maxUploadSize: Int { FormLimits.bodyBytes }
}

/// Refuses, before any handler of its group runs, a token that lacks `scope` (403
/// `insufficient_scope`, RFC 6750 §3.1), whatever list the request names.
struct RequiredScope: RouterMiddleware {
    typealias Context = SenderRequestContext
    let scope: SenderScope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard context.access.scopes.contains(scope) else { throw Problem.insufficientScope(scope) }
        return try await next(request, context)
    }
}
