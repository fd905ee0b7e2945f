// Errors a user can cause and fix. Each description is one line meant for a person:
// the CLI prints it after `error: `, the server puts it in a 4xx answer.
public enum DomainError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidSlug(String)
    case invalidListName(String)
    /// The display name in a list's From.
    case invalidFromName(String)
    case invalidAddress(field: String, reason: EmailAddressError)
    case duplicateSlug(ListSlug)
    case listNotFound(String)
    case messageNotFound(Int64)
    case invalidName(String)
    case invalidOrigin(String)
    case invalidPageURL(String, reason: String)
    /// `--legal-name`, `--postal-address` or `--contact`.
    case invalidSenderIdentity(field: String, reason: String)
    /// A closed list (`lists archive`): it takes no subscriptions and no new snapshots.
    case listArchived(String)
    case undeliverableAddress
    case messageNotInState(Int64, OutboxStatus, allowed: [OutboxStatus])
    /// `--soft-bounce-limit` or `--soft-bounce-days` out of range.
    case invalidSoftBouncePolicy(String)
    /// A snapshot's audience is not what the sender expected (`AudienceExpectation`):
    /// nothing was kept.
    case audienceMismatch(count: Int, expectation: AudienceExpectation)
    /// An expectation that cannot be met by any audience (a negative count).
    case invalidExpectation(String)

    public var description: String {
        switch self {
        case .invalidSlug(let text):
            "invalid list slug '\(text.printable)': use 1–63 characters a-z, 0-9 and '-', starting with a letter or digit"
        case .invalidListName(let reason):
            "invalid list name: \(reason)"
        case .invalidFromName(let reason):
            "invalid sender name in From: \(reason)"
        case .invalidAddress(let field, let reason):
            "invalid \(field): \(reason)"
        case .duplicateSlug(let slug):
            "a list named '\(slug)' already exists"
        case .listNotFound(let slug):
            "no list named '\(slug.printable)'"
        case .invalidOrigin(let text):
            "invalid origin '\(text.printable)': use scheme://host[:port], e.g. https://www.example.org"
        case .invalidPageURL(let text, let reason):
            "invalid page URL '\(text.printable)': \(reason); use a full URL such as https://www.example.co.jp/thanks"
        case .invalidName(let reason):
            "invalid name: \(reason)"
        case .invalidSenderIdentity(let field, let reason):
            "\(field): \(reason)"
        case .listArchived(let slug):
            "list '\(slug.printable)' is archived: it takes no one new (leaving still works)"
        case .undeliverableAddress:
            "listgate cannot send mail to this address"
        case .messageNotFound(let id):
            "no outbox message with id \(id)"
        case .invalidSoftBouncePolicy(let reason):
            reason
        case .audienceMismatch(let count, let expectation):
            "the audience is \(count), not \(expectation.summary) as expected: no snapshot was taken"
        case .invalidExpectation(let reason):
            reason
        case .messageNotInState(let id, let status, let allowed):
            "message \(id) is \(status.rawValue); only \(allowed.map(\.rawValue).joined(separator: " or ")) messages can be changed this way"
        }
    }
}

extension String {
    /// The text with control characters made visible, so an error message quoting user
    /// input cannot break a terminal line or a log record.
    package var printable: String {
        unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined()
    }
}
