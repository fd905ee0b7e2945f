// The feedback room's service: what a sender reports about its mail changes the list.
// The sender API's feedback route and the provider webhooks both hand their reports here
// (README, "Reporting bounces and complaints"):
//   - hard_bounce: the subscription becomes `bounced`, suppressed for the list (`bounced`);
//   - complaint: `complained`, suppressed for the list (`complained`), which stops every
//     mail to the address on that list, confirmation mails included, until an admin
//     lifts it; mail still queued for it there is discarded;
//   - soft_bounce: counted; the list's policy (`SoftBouncePolicy`) makes the Nth within
//     D days a hard one;
//   - unsubscribe: `unsubscribed` by route `sender`, as any unsubscribe.
// A report about someone who already left is accepted and changes nothing; one naming
// nobody on the list is `unknown`; one whose id the list has seen is a duplicate.
import Foundation

public struct Feedback: Sendable {
    let store: any FeedbackStore

    public init(store: any FeedbackStore) {
        self.store = store
    }

    /// Applies a batch of reports to one list. Events that cannot be applied as given (an
    /// id that is empty or too long, an email that is not an address) are counted in
    /// `invalid` by their index in `events`; a caller that found other items invalid
    /// before calling adds its own. `source` is the ledger's: `api:TOKEN_ID` for the
    /// sender API, the provider's webhook for a provider.
    public func apply(_ events: [FeedbackEvent], toList slug: ListSlug, source: EventSource) async throws -> FeedbackOutcome {
        var reports: [FeedbackReport] = []
        reports.reserveCapacity(events.count)
        var invalid: [FeedbackProblem] = []
        for (index, event) in events.enumerated() {
            switch Self.check(event, index: index) {
            case .report(let report): reports.append(report)
            case .problem(let problem): invalid.append(problem)
            }
        }
        var outcome = try await store.applyFeedback(reports, toList: slug, source: source, at: Date())
        outcome.invalid = invalid
        return outcome
    }

    enum Checked {
        case report(FeedbackReport)
        case problem(FeedbackProblem)
    }

    /// One event checked and turned into what the store applies.
    static func check(_ event: FeedbackEvent, index: Int) -> Checked {
        guard !event.id.isEmpty, event.id.count <= FeedbackEvent.maximumIDLength else {
            return .problem(FeedbackProblem(index: index, error: "id must be 1–\(FeedbackEvent.maximumIDLength) characters"))
        }
        guard !event.id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return .problem(FeedbackProblem(index: index, error: "id must not contain control characters"))
        }
        let target: FeedbackReport.Target
        switch event.recipient {
        case .recipientID(let id):
            target = .recipientID(id)
        case .email(let text):
            guard let address = try? EmailAddress(text) else {
                return .problem(FeedbackProblem(index: index, error: "email is not a valid address"))
            }
            target = .identityKey(address.identityKey)
        }
        return .report(FeedbackReport(
            index: index, id: event.id, type: event.type, target: target, occurredAt: event.occurredAt,
            ledgerDetail: Self.ledgerDetail(event)))
    }

    /// What the ledger keeps of a report: its type, id and time, and the sender's detail
    /// (at most `maximumDetailFields` flat fields, each value cut to 200 characters) with
    /// every word that holds an `@` replaced: a bounce's diagnostic often quotes the
    /// address, and the ledger names people only by their hash.
    static func ledgerDetail(_ event: FeedbackEvent) -> [String: String] {
        var detail = [
            "report": event.type.rawValue,
            "report_id": withoutAddresses(event.id),
            "reported_at": Timestamp.string(event.occurredAt),
        ]
        for (key, value) in event.detail.sorted(by: { $0.key < $1.key }).prefix(maximumDetailFields) {
            let name = String(key.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
                .prefix(40).map(Character.init)).lowercased()
            guard !name.isEmpty else { continue }
            detail["detail." + name] = String(withoutAddresses(value).prefix(200))
        }
        return detail
    }

    static let maximumDetailFields = 10

    /// The text with each word (between white space) that holds an `@` (or a full-width
    /// `＠`) replaced by `(address)`.
    static func withoutAddresses(_ text: String) -> String {
        func holdsAt(_ word: Substring) -> Bool { word.contains { $0 == "@" || $0 == "＠" } }
        guard holdsAt(text[...]) else { return text }
        return text.split(whereSeparator: \.isWhitespace).map { holdsAt($0) ? "(address)" : String($0) }.joined(separator: " ")
    }
}
