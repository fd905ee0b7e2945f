// The front door records, the desk decides. A form post (subscribe, or "mail me an
// unsubscribe link") is validated, recorded as one `form_requests` row and answered as
// soon as that row is committed. What it causes is decided afterwards, in the background,
// by the IntakeDesk: so the work done before the answer is the same whether the address
// is new, pending, active, unsubscribed or suppressed, and the answer's timing tells an
// observer nothing (docs/security.md, "No enumeration"). Acknowledged still means
// durable: the recorded row survives a crash and is decided at the next start.
import Foundation

public enum FormRequestKind: String, Sendable, Equatable {
    case subscribe
    case unsubscribeLink = "unsubscribe_link"
}

/// A recorded form post, waiting for its decision.
public struct FormRequest: Sendable, Equatable {
    public let id: Int64
    public let kind: FormRequestKind
    public let listSlug: String
    /// As typed (and accepted by `EmailAddress` when it was recorded).
    public let email: String
    public let name: String?
    public let origin: RequestOrigin
    public let receivedAt: Date

    public init(
        id: Int64, kind: FormRequestKind, listSlug: String, email: String, name: String?, origin: RequestOrigin,
        receivedAt: Date
    ) {
        self.id = id
        self.kind = kind
        self.listSlug = listSlug
        self.email = email
        self.name = name
        self.origin = origin
        self.receivedAt = receivedAt
    }
}

/// Decides recorded form posts, oldest first, each in the transaction that consumes its
/// row: a request is decided exactly once, however many desks (or processes) run.
public struct IntakeDesk: Sendable {
    let store: any IntakeStore
    let intake: Intake
    let unsubscribes: Unsubscribes

    public init(intake: Intake, unsubscribes: Unsubscribes) {
        self.store = intake.store
        self.intake = intake
        self.unsubscribes = unsubscribes
    }

    /// What one pass did, for logs and tests.
    public struct Pass: Sendable, Equatable {
        public var decided = 0
        /// Requests that can no longer be decided (their list or address is no longer
        /// accepted, or deciding failed `maximumAttempts` times): removed, nothing is sent.
        public var dropped = 0
        /// Requests whose decision failed this time and will be tried again.
        public var failed = 0
        /// The last failure, for the log.
        public var lastError: String?
    }

    /// A request whose decision fails this often (a bug, a broken template) is dropped,
    /// so it cannot hold up every request behind it.
    public static let maximumAttempts = 5

    /// Decides up to `limit` waiting requests. One request's failure does not stop the
    /// others: it is counted, and tried again in a later pass.
    ///
    /// Requests for different mailboxes are decided side by side, so their confirmations
    /// render on every core and their writes share group commits (SQLiteStore's
    /// GroupCommit) instead of one transaction each; measured in bench/forms.sh. Requests
    /// for one mailbox are decided one after another, oldest first, so the second sees
    /// what the first did (its cooldown, its daily limit).
    @discardableResult
    public func decidePending(limit: Int = 200) async throws -> Pass {
        var pass = Pass()
        for round in Self.rounds(try await store.pendingFormRequests(limit: limit)) {
            let results = await withTaskGroup(of: (FormRequest, Result<Bool, any Error>).self) { group in
                for request in round {
                    group.addTask {
                        do { return (request, .success(try await decide(request))) } catch { return (request, .failure(error)) }
                    }
                }
                var results: [(FormRequest, Result<Bool, any Error>)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (request, result) in results.sorted(by: { $0.0.id < $1.0.id }) {
                switch result {
                case .success(true): pass.decided += 1
                case .success(false): pass.dropped += 1
                case .failure(let error):
                    if error is CancellationError { throw CancellationError() }
                    pass.lastError = "\(type(of: error))"
                    if try await store.noteFormRequestFailure(id: request.id) >= Self.maximumAttempts {
                        try await store.discardFormRequest(id: request.id)
                        pass.dropped += 1
                    } else {
                        pass.failed += 1
                    }
                }
            }
        }
        return pass
    }

    /// Splits requests (oldest first) into rounds in which no mailbox appears twice,
    /// keeping their order: a round can be decided side by side.
    static func rounds(_ requests: [FormRequest]) -> [[FormRequest]] {
        var rounds: [[FormRequest]] = []
        var current: [FormRequest] = []
        var mailboxes: Set<String> = []
        for request in requests {
            // A post that no longer parses is dropped by `decide`; any key will do for it.
            let mailbox = (try? EmailAddress(request.email))?.mailboxKey ?? request.email
            if !mailboxes.insert(mailbox).inserted {
                rounds.append(current)
                current = []
                mailboxes = [mailbox]
            }
            current.append(request)
        }
        if !current.isEmpty { rounds.append(current) }
        return rounds
    }

    /// Decides every waiting request it can: passes until one decides or drops nothing
    /// (requests that failed wait for the next call).
    @discardableResult
    public func decideAll() async throws -> Pass {
        var total = Pass()
        while true {
            let pass = try await decidePending()
            total.decided += pass.decided
            total.dropped += pass.dropped
            total.failed = pass.failed
            total.lastError = pass.lastError ?? total.lastError
            if pass.decided + pass.dropped == 0 { return total }
        }
    }

    /// False when the request was dropped rather than decided.
    func decide(_ request: FormRequest) async throws -> Bool {
        guard let list = try await intake.listIfExists(request.listSlug) else {
            try await store.discardFormRequest(id: request.id)
            return false
        }
        do {
            switch request.kind {
            case .subscribe:
                _ = try await intake.requestSubscription(
                    list: list, email: request.email, name: request.name, origin: request.origin, now: request.receivedAt,
                    formRequestID: request.id)
            case .unsubscribeLink:
                _ = try await unsubscribes.requestLink(
                    list: list, email: request.email, now: request.receivedAt, formRequestID: request.id)
            }
            return true
        } catch is DomainError {
            // Accepted when recorded, refused now (a stricter build, an unrenderable
            // address): nothing can be sent, and the row must not block the queue.
            try await store.discardFormRequest(id: request.id)
            return false
        }
    }
}
