// `POST /api/v1/snapshots/{id}/approvals`: a second person approves a frozen audience by
// its exact count and sha256 (README, "Before you send"). Its own scope,
// `audience:approve`, so the sender's token that takes snapshots need not be able to
// approve them, and the token that took one never can. The rules are the core's
// (`SnapshotApprovals`); this turns them into answers.
import Foundation
import Hummingbird
import ListgateCore
import NIOCore

struct SnapshotApprovalRoutes: Sendable {
    let store: any SnapshotStore
    static let maximumBodyBytes = 1_024

    func addRoutes(to group: RouterGroup<SenderRequestContext>) {
        group.post("snapshots/:id/approvals") { request, context in try await approve(request, context) }
    }

    func approve(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let snapshot = try await SenderAPIRoutes.ownSnapshot(context, store: store)
        let body = try await Self.read(request)
        let tally: ApprovalTally
        do {
            tally = try await SnapshotApprovals(store: store).approve(
                snapshotID: snapshot.id, by: .token(context.access.tokenID), count: body.count, sha256Prefix: body.sha256,
                source: context.access.source)
        } catch let refusal as SnapshotApprovalError {
            throw Problem.approvalRefused(refusal)
        }
        guard let approved = try await store.snapshot(id: snapshot.id) else { throw Problem.notFound("snapshot") }
        var document = SenderAPIRoutes.document(approved)
        document["counted"] = tally.counted
        return JSONAnswer.body(document, code: .ok)
    }

    struct Body: Decodable {
        let count: Int
        let sha256: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: SnapshotExpectationBody.Key.self)
            let known = [SnapshotExpectationBody.Key(stringValue: "count"), SnapshotExpectationBody.Key(stringValue: "sha256")]
            if let unknown = container.allKeys.first(where: { !known.contains($0) }) {
                throw SnapshotExpectationBody.UnknownKey(key: unknown.stringValue)
            }
            count = try container.decode(Int.self, forKey: known[0])
            sha256 = try container.decode(String.self, forKey: known[1])
        }
    }

    static func read(_ request: Request) async throws -> Body {
        var request = request
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else { throw Problem.approvalMediaType }
        let bytes: ByteBuffer
        do {
            bytes = try await request.collectBody(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.invalidApproval("the body may be at most \(maximumBodyBytes) bytes")
        }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch let error as SnapshotExpectationBody.UnknownKey {
            throw Problem.invalidApproval("unknown key '\(String(error.key.prefix(40)).printable)': give count and sha256")
        } catch {
            throw Problem.invalidApproval(
                #"give {"count": N, "sha256": "HEX"}: the snapshot's count and at least the first 8 hex digits of its sha256"#)
        }
    }
}

extension Problem {
    static func invalidApproval(_ message: String) -> Problem {
        Problem(.badRequest, code: "invalid_approval", message: message, page: nil)
    }

    static let approvalMediaType = Problem(
        .unsupportedMediaType, code: "unsupported_media_type",
        message: #"send application/json: {"count": N, "sha256": "HEX"}"#, page: nil)

    static func approvalRefused(_ refusal: SnapshotApprovalError) -> Problem {
        switch refusal {
        case .snapshotNotFound: .notFound("snapshot")
        case .byCreator: Problem(.forbidden, code: "approver_is_creator", message: refusal.description, page: nil)
        case .mismatch: Problem(.conflict, code: "approval_mismatch", message: refusal.description, page: nil)
        case .notRequired: Problem(.conflict, code: "approval_not_required", message: refusal.description, page: nil)
        case .expired: .snapshotExpired
        case .invalidPrefix, .invalidApprover: .invalidApproval(refusal.description)
        }
    }

    /// The recipients stream before the snapshot's required approvals.
    static func awaitingApproval(_ snapshot: AudienceSnapshot) -> Problem {
        var problem = Problem(
            .conflict, code: "awaiting_approval",
            message: "\(snapshot.approvals) of \(snapshot.approvalsRequired) approvals: "
                + "this snapshot cannot be streamed until it is approved (listgate snapshots approve, "
                + "or POST /api/v1/snapshots/{id}/approvals)",
            page: nil)
        problem.facts = ["approvals": snapshot.approvals, "approvals_required": snapshot.approvalsRequired]
        return problem
    }
}

/// The sender API's snapshot document, for `listgate snapshots show --json` to print the
/// same shape the API answers.
public enum SnapshotDocument {
    public static func object(_ snapshot: AudienceSnapshot) -> [String: Any] {
        SenderAPIRoutes.document(snapshot)
    }
}
