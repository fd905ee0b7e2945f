// `POST /api/v1/snapshots/{id}/preflight`: a sender hands in one rendered newsletter, as it
// would send it to one member of the snapshot, and learns before the campaign whether it
// would leak (README, "Before you send"). The checks are ListgateMail's `Preflight`, the
// outbox's own reader and guard; this route reads the body within its limit, lets only a
// few checks run at once (a 10 MiB message is real work on a 2-core machine, and forms
// must stay responsive), and turns the report into the answer. A bad message is a 200
// `fail`; only what is not a message at all (empty, too large, another media type) is 4xx.
import Foundation
import Hummingbird
import ListgateCore
import ListgateMail
import NIOCore

struct PreflightRoutes: Sendable {
    let store: any PreflightStore & SnapshotStore & ListCatalog
    let links: LinkBuilder
    let gate: PreflightGate

    static let maximumBodyBytes = Preflight.maximumOctets
    /// For the connection guard, which answers 413 from a declared length alone.
    static let pathPattern = "/api/v1/snapshots/*/preflight"
    static let mediaTypes: Set<String> = ["message/rfc822", "message/global"]

    init(store: any PreflightStore & SnapshotStore & ListCatalog, links: LinkBuilder, gate: PreflightGate = PreflightGate()) {
        self.store = store
        self.links = links
        self.gate = gate
    }

    func addRoutes(to group: RouterGroup<SenderRequestContext>) {
        group.post("snapshots/:id/preflight") { request, context in try await preflight(request, context) }
    }

    func preflight(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let snapshot = try await SenderAPIRoutes.ownSnapshot(context, store: store)
        // Expired: its members are gone, so no To could be found in it.
        guard !snapshot.expired else { throw Problem.snapshotExpired }
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard let mediaType, Self.mediaTypes.contains(mediaType) else { throw Problem.preflightMediaType }
        guard let list = try await store.list(id: snapshot.listID) else { throw Problem.notFound("list") }

        // Admitted before the body is read: a waiting request holds its connection, not
        // 10 MiB of memory.
        guard await gate.enter() else { throw Problem.preflightBusy }
        do {
            let report = try await check(request, snapshot: snapshot, list: list, context: context)
            await gate.leave()
            return report
        } catch {
            await gate.leave()
            throw error
        }
    }

    private func check(
        _ request: Request, snapshot: AudienceSnapshot, list: MailingList, context: SenderRequestContext
    ) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.messageTooLarge
        }
        guard body.readableBytes > 0 else { throw Problem.emptyMessage }
        let report = try await Preflight(store: store, links: links).check(
            Array(body.readableBytesView), snapshot: snapshot, list: list, source: context.access.source)
        // Codes and counts only: the message and its addresses are third parties' data.
        context.logger.info("preflight checked", metadata: [
            "token_id": "\(context.access.tokenID)", "snapshot_id": "\(snapshot.id)", "verdict": "\(report.verdict.rawValue)",
            "problems": "\(report.problemCodes.joined(separator: ","))", "octets": "\(body.readableBytes)",
            "foreign_addresses": "\(report.foreignAddresses)", "subscriber_addresses": "\(report.subscriberAddresses)",
        ])
        return try Self.answer(report)
    }

    static func answer(_ report: PreflightReport) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try PreflightDocument.json(report))))
    }
}

/// The preflight report as the API answers it, for `listgate preflight --json` to print
/// the same bytes.
public enum PreflightDocument {
    public static func json(_ report: PreflightReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(report)
    }
}

/// At most `running` preflights at once, and at most `waiting` more in line; beyond that
/// a sender is told to retry (503 with Retry-After) rather than held without end.
actor PreflightGate {
    private let running: Int
    private let waiting: Int
    private var inside = 0
    private var line: [CheckedContinuation<Void, Never>] = []

    init(running: Int = 2, waiting: Int = 16) {
        self.running = running
        self.waiting = waiting
    }

    /// False when the line is full.
    func enter() async -> Bool {
        if inside < running {
            inside += 1
            return true
        }
        guard line.count < waiting else { return false }
        // `leave` hands its place over directly, so `inside` is not incremented here.
        await withCheckedContinuation { line.append($0) }
        return true
    }

    var waitingCount: Int { line.count }

    func leave() {
        if line.isEmpty {
            inside -= 1
        } else {
            line.removeFirst().resume()
        }
    }
}

extension Problem {
    static let preflightMediaType = Problem(
        .unsupportedMediaType, code: "unsupported_media_type",
        message: "send the rendered message as Content-Type: message/rfc822, exactly as it would be sent", page: nil)

    static let emptyMessage = Problem(
        .badRequest, code: "empty_message", message: "the body is empty: send one rendered message", page: nil)

    static let messageTooLarge = Problem(
        .contentTooLarge, code: "body_too_large",
        message: "the message may be at most \(Preflight.maximumOctets >> 20) MiB", page: nil)

    static let preflightBusy: Problem = {
        var problem = Problem(
            .serviceUnavailable, code: "preflight_busy",
            message: "too many preflights are running; try again in a moment", page: nil)
        problem.headers[.retryAfter] = "1"
        return problem
    }()
}
