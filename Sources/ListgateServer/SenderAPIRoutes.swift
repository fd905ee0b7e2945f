// The sender API (`/api/v1`): a separate newsletter sender pulls what it may read, and
// reports back what happened to its mail (FeedbackRoutes). Every route is in one group
// whose context is the token's access (SenderAuthentication): no or bad token → 401
// before a handler runs; a token without the route's scope → 403 `insufficient_scope`;
// a token for another list → 403; only then can an unknown list or snapshot be 404
// (README, invariant 4: fail closed). Refusals are thrown as `Problem`s, JSON whatever
// the client accepts.
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore
import Logging

struct SnapshotExpiredWhileStreaming: Error {}

struct SenderAPIRoutes: Sendable {
    let store: any SnapshotStore & SenderTokenStore & ListCatalog & PreflightStore
    let links: LinkBuilder
    /// Departures per database read of the unsubscribes feed.
    static let pageSize = 1_000

    func addRoutes(to router: Router<AppRequestContext>, feedback: FeedbackRoutes) {
        let api = router.group("api/v1")
            .add(middleware: SenderAuthenticator(store: store))
            .group(context: SenderRequestContext.self)
        // Reading the audience: `audience:read`, what every token could do before scopes.
        let audience = api.group().add(middleware: RequiredScope(scope: .audienceRead))
        audience.get("lists") { request, context in try await lists(request, context) }
        audience.post("lists/:slug/snapshots") { request, context in try await takeSnapshot(request, context) }
        audience.get("snapshots/:id") { request, context in try await snapshot(request, context) }
        audience.get("snapshots/:id/recipients") { request, context in try await recipients(request, context) }
        audience.get("lists/:slug/unsubscribes") { request, context in try await unsubscribes(request, context) }
        // Checking one rendered newsletter before a campaign: a reader's question too.
        PreflightRoutes(store: store, links: links).addRoutes(to: audience)
        // Reporting back: `feedback:write`.
        feedback.addRoutes(to: api.group().add(middleware: RequiredScope(scope: .feedbackWrite)))
        // Approving a snapshot: `audience:approve`, a second person's token.
        SnapshotApprovalRoutes(store: store).addRoutes(to: api.group().add(middleware: RequiredScope(scope: .audienceApprove)))
    }

    /// `POST /api/v1/lists/{slug}/snapshots`: freezes the list's active audience.
    func takeSnapshot(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let access = context.access
        // Another list: 403 if it exists, 404 if not; never a fallback to "all".
        try await requireOwnList(context.parameters.require("slug"), access)
        let expectation = try await SnapshotExpectationBody.read(request)
        let snapshot: AudienceSnapshot
        do {
            snapshot = try await store.takeSnapshot(
                listID: access.listID, tokenID: access.tokenID, expecting: expectation, source: access.source)
        } catch DomainError.listArchived {
            // A closed list has no audience to send to; its earlier snapshots still stream.
            throw Problem.listArchived
        } catch DomainError.audienceMismatch(let count, let expectation) {
            // Nothing was kept, so no event either: the log is the trace, counts only.
            context.logger.warning("snapshot refused: the audience is not what the sender expected", metadata: [
                "token_id": "\(access.tokenID)", "count": "\(count)", "expected": "\(expectation.summary)",
            ])
            throw Problem.audienceMismatch(count: count, expectation: expectation)
        }
        return JSONAnswer.body(Self.document(snapshot), code: .created)
    }

    /// `GET /api/v1/snapshots/{id}`: the metadata of a snapshot of this token's list.
    func snapshot(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let snapshot = try await ownSnapshot(context)
        return JSONAnswer.body(Self.document(snapshot), code: .ok)
    }

    /// `GET /api/v1/snapshots/{id}/recipients`: the frozen members as NDJSON, each with a
    /// working one-click unsubscribe link and the header values to send it in.
    func recipients(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let snapshot = try await ownSnapshot(context)
        // The members were deleted for age; the metadata above is still there.
        guard !snapshot.expired else { throw Problem.snapshotExpired }
        // Not one recipient before the list's required approvals (README, "Before you send").
        guard snapshot.status == .ready else { throw Problem.awaitingApproval(snapshot) }
        let store = self.store, links = self.links, paging = store.recipientPaging
        var headers = Self.streamHeaders
        // The sender can check what it received against what it reviewed: count and
        // sha256 as frozen, and how many of those members were erased since, whom the
        // stream leaves out.
        headers[Self.countHeader] = String(snapshot.count)
        headers[Self.sha256Header] = snapshot.sha256
        headers[Self.erasedHeader] = String(snapshot.erased)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Pages are read and encoded by the store, a few ahead of the one being
            // written (its `recipientPaging`). Where a page ends is looked up first (a walk
            // of the primary-key index), so the page after it need not wait for it.
            var reading: [Task<RecipientPage, any Error>] = []
            defer { for page in reading { page.cancel() } }
            var nextStart: String?? = .some(nil)  // .none once the last page is being read
            func readAhead() async throws {
                while reading.count < paging.ahead, case .some(let start) = nextStart {
                    let end = try await store.snapshotPageEnd(snapshotID: snapshot.id, after: start, limit: paging.size)
                    nextStart = end.map { .some($0) } ?? .none
                    reading.append(Task {
                        try await store.snapshotRecipients(snapshotID: snapshot.id, after: start, limit: paging.size, links: links)
                    })
                }
            }
            try await readAhead()
            while !reading.isEmpty {
                let page = try await reading.removeFirst().value
                try await readAhead()
                if !page.ndjson.isEmpty { try await writer.write(ByteBuffer(bytes: page.ndjson)) }
            }
            // Pruned while this stream ran: what went out may lack members. End without
            // the closing chunk, so the sender sees a broken transfer rather than a short list.
            if try await store.snapshot(id: snapshot.id)?.expired != false { throw SnapshotExpiredWhileStreaming() }
            try await writer.finish(nil)
        })
    }

    /// `GET /api/v1/lists/{slug}/unsubscribes?since=RFC3339`: who left since then, oldest
    /// first. `since` is required: a missing or malformed one is 400, never "since the
    /// beginning".
    func unsubscribes(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let access = context.access
        try await requireOwnList(context.parameters.require("slug"), access)
        guard let sinceText = request.uri.queryParameters["since"].map(String.init) else { throw Problem.sinceRequired }
        guard let since = Timestamp.strictRFC3339(sinceText) else { throw Problem.invalidSince }
        let store = self.store, listID = access.listID, sinceStamp = Timestamp.string(since)
        return Response(status: .ok, headers: Self.streamHeaders, body: ResponseBody { writer in
            var after: (time: String, key: String)?
            var line = JSONLine()
            while true {
                let page = try await store.departures(listID: listID, since: sinceStamp, after: after, limit: Self.pageSize)
                for departure in page {
                    // An erased person is named by recipient id alone (no address survives).
                    if let email = departure.email { line.field("email", email) }
                    line.field("recipient_id", departure.recipientID)
                    if let reason = departure.reason { line.field("reason", reason) }
                    line.field("unsubscribed_at", departure.unsubscribedAt)
                    line.endObject()
                }
                if !line.bytes.isEmpty { try await writer.write(ByteBuffer(bytes: line.take())) }
                guard page.count == Self.pageSize, let last = page.last else { break }
                after = (last.unsubscribedAt, last.sortKey)
            }
            try await writer.finish(nil)
        })
    }

    static let countHeader = HTTPField.Name("X-Listgate-Snapshot-Count")!
    static let sha256Header = HTTPField.Name("X-Listgate-Snapshot-SHA256")!
    static let erasedHeader = HTTPField.Name("X-Listgate-Snapshot-Erased")!
    static let streamHeaders: HTTPFields = [.contentType: "application/x-ndjson; charset=utf-8", .cacheControl: "no-store"]

    /// For a route naming a list: throws 403 if it is another existing list than the
    /// token's, 404 if there is no such list.
    func requireOwnList(_ slugText: String, _ access: SenderAccess) async throws {
        try await Self.requireOwnList(slugText, access, lists: store)
    }

    static func requireOwnList(_ slugText: String, _ access: SenderAccess, lists: any ListCatalog) async throws {
        guard slugText != access.listSlug else { return }
        var exists = false
        if let slug = try? ListSlug(slugText) { exists = try await lists.list(slug) != nil }
        throw exists ? Problem.forbidden : Problem.notFound("list")
    }

    /// The route's snapshot if it is of the token's list: 404 if there is none, 403 if it
    /// is another list's.
    func ownSnapshot(_ context: SenderRequestContext) async throws -> AudienceSnapshot {
        try await Self.ownSnapshot(context, store: store)
    }

    static func ownSnapshot(_ context: SenderRequestContext, store: any SnapshotStore) async throws -> AudienceSnapshot {
        guard let snapshot = try await store.snapshot(id: context.parameters.require("id")) else {
            throw Problem.notFound("snapshot")
        }
        guard snapshot.listID == context.access.listID else { throw Problem.forbidden }
        return snapshot
    }

    static func document(_ snapshot: AudienceSnapshot) -> [String: Any] {
        ["id": snapshot.id, "list": snapshot.listSlug, "count": snapshot.count, "sha256": snapshot.sha256,
         "created_at": Timestamp.string(snapshot.createdAt), "erased": snapshot.erased, "expired": snapshot.expired,
         "sender_identity": identityDocument(snapshot.senderIdentity), "status": snapshot.status.rawValue,
         "approvals": snapshot.approvals, "approvals_required": snapshot.approvalsRequired]
    }

    /// `{"legal_name", "postal_address", "contact"}`, each null when not set: always the
    /// same shape, so a sender can read it without asking whether it is there.
    static func identityDocument(_ identity: SenderIdentity) -> [String: Any] {
        func orNull(_ value: String?) -> Any { value ?? NSNull() }
        return ["legal_name": orNull(identity.legalName), "postal_address": orNull(identity.postalAddress),
                "contact": orNull(identity.contact?.text)]
    }

    /// `GET /api/v1/lists`: the lists this token may read (exactly one).
    func lists(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        guard let list = try await store.list(ListSlug(context.access.listSlug)) else { throw Problem.notFound("list") }
        let counts = try await store.memberCounts(listID: list.id)
        let document: [String: Any] = [
            "slug": list.slug.rawValue, "name": list.name, "locale": list.locale.rawValue, "active": counts.active,
            "archived_at": list.archivedAt.map { Timestamp.string($0) as Any } ?? NSNull(),
            "sender_identity": Self.identityDocument(list.senderIdentity),
        ]
        return JSONAnswer.body(["lists": [document]], code: .ok)
    }
}

