// The sender API (`/api/v1`): a separate newsletter sender pulls what it may read.
// Every route authenticates first: no or bad token → 401; a token for another list → 403;
// only then can an unknown list or snapshot be 404 (DESIGN.md invariant 4: fail closed).
import Foundation
import Hummingbird
import ListgateCore
import Logging

struct SenderAPIRoutes: Sendable {
    let store: any ListgateStore

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("api/v1/lists") { request, context in try await lists(request, context) }
        router.post("api/v1/lists/:slug/snapshots") { request, context in try await takeSnapshot(request, context) }
        router.get("api/v1/snapshots/:id") { request, context in try await snapshot(request, context) }
    }

    /// `POST /api/v1/lists/{slug}/snapshots`: freezes the list's active audience.
    func takeSnapshot(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let access = try await authenticate(request, context) else { return unauthorized() }
        let slugText = try context.parameters.require("slug")
        guard slugText == access.listSlug else {
            // Another list: 403 if it exists, 404 if not; never a fallback to "all".
            var exists = false
            if let slug = try? ListSlug(slugText) { exists = try await store.list(slug) != nil }
            return exists ? forbidden() : notFound("list")
        }
        let snapshot = try await store.takeSnapshot(
            listID: access.listID, tokenID: access.tokenID, source: EventSource("api:\(access.tokenID)"))
        return JSONAnswer.body(Self.document(snapshot), code: .created)
    }

    /// `GET /api/v1/snapshots/{id}`: the metadata of a snapshot of this token's list.
    func snapshot(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let access = try await authenticate(request, context) else { return unauthorized() }
        guard let snapshot = try await store.snapshot(id: context.parameters.require("id")) else { return notFound("snapshot") }
        guard snapshot.listID == access.listID else { return forbidden() }
        return JSONAnswer.body(Self.document(snapshot), code: .ok)
    }

    static func document(_ snapshot: AudienceSnapshot) -> [String: Any] {
        ["id": snapshot.id, "list": snapshot.listSlug, "count": snapshot.count, "sha256": snapshot.sha256,
         "created_at": Timestamp.string(snapshot.createdAt)]
    }

    func forbidden() -> Response {
        JSONAnswer.error("forbidden", "this token may not read that list", status: .forbidden)
    }

    func notFound(_ what: String) -> Response {
        JSONAnswer.error("\(what)_not_found", "no such \(what)", status: .notFound)
    }

    /// The access the request's bearer token grants; nil means answer `unauthorized()`.
    func authenticate(_ request: Request, _ context: AppRequestContext) async throws -> SenderAccess? {
        // The scheme name is case-insensitive (RFC 7235 §2.1).
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let access = try await store.senderAccess(token: token) else { return nil }
        // Each use is logged by token id, never by the token itself.
        context.logger.info("sender API request", metadata: ["token_id": "\(access.tokenID)", "route": "\(context.endpointPath ?? "")"])
        return access
    }

    func unauthorized() -> Response {
        var response = JSONAnswer.error("unauthorized", "a valid bearer token is required", status: .unauthorized)
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }

    /// `GET /api/v1/lists`: the lists this token may read (exactly one).
    func lists(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let access = try await authenticate(request, context) else { return unauthorized() }
        guard let list = try await store.list(ListSlug(access.listSlug)) else {
            return JSONAnswer.error("list_not_found", "no such list", status: .notFound)
        }
        let counts = try await store.memberCounts(listID: list.id)
        return JSONAnswer.body(
            ["lists": [["slug": list.slug.rawValue, "name": list.name, "locale": list.locale.rawValue, "active": counts.active]]],
            code: .ok)
    }
}

