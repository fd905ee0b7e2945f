// The answer to a preflight, in the one JSON shape that both the API and `listgate
// preflight --json` print. It holds codes, sentences, counts and places, never an address
// or any text of the message: it may be shown to whoever rendered the newsletter.

public struct PreflightReport: Sendable, Equatable, Encodable {
    public enum Verdict: String, Sendable, Encodable {
        case pass, fail
    }

    public let verdict: Verdict
    /// The To member's `recipient_id`, when the To names a member of the snapshot.
    public let recipient: String?
    public let problems: [PreflightProblem]
    /// Distinct addresses other than the recipient's and the list's own.
    public let foreignAddresses: Int
    /// How many of those belong to subscribers of the list (in any status).
    public let subscriberAddresses: Int
    /// The message had LF line ends only and was read as if they were CRLF.
    public let lineEndingsNormalised: Bool
    /// Image parts: checked for form, not read for text.
    public let unscannedParts: Int

    init(
        recipient: String?, problems: [PreflightProblem], foreignAddresses: Int, subscriberAddresses: Int,
        lineEndingsNormalised: Bool, unscannedParts: Int
    ) {
        verdict = problems.isEmpty ? .pass : .fail
        self.recipient = recipient
        self.problems = problems
        self.foreignAddresses = foreignAddresses
        self.subscriberAddresses = subscriberAddresses
        self.lineEndingsNormalised = lineEndingsNormalised
        self.unscannedParts = unscannedParts
    }

    public var problemCodes: [String] { problems.map(\.code) }

    enum CodingKeys: String, CodingKey {
        case verdict, recipient, problems
        case foreignAddresses = "foreign_addresses"
        case subscriberAddresses = "subscriber_addresses"
        case lineEndingsNormalised = "line_endings_normalised"
        case unscannedParts = "unscanned_parts"
    }

    /// Every key always present (`recipient` as null), so clients need no guesswork.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(recipient, forKey: .recipient)
        try container.encode(problems, forKey: .problems)
        try container.encode(foreignAddresses, forKey: .foreignAddresses)
        try container.encode(subscriberAddresses, forKey: .subscriberAddresses)
        try container.encode(lineEndingsNormalised, forKey: .lineEndingsNormalised)
        try container.encode(unscannedParts, forKey: .unscannedParts)
    }
}

public struct PreflightProblem: Sendable, Equatable, Encodable {
    /// Stable, for programs: `foreign_addresses`, `copy_header`, `to_not_one_address`, ...
    public let code: String
    /// For people; names places and counts, never an address.
    public let message: String
    /// For `foreign_addresses`: where, how many, and how many of them are subscribers.
    public let places: [PreflightPlace]?

    init(_ code: String, _ message: String, places: [PreflightPlace]? = nil) {
        self.code = code
        self.message = message
        self.places = places
    }
}

public struct PreflightPlace: Sendable, Equatable, Encodable {
    /// "the Subject header", "the body part 2 (text/html)", "the MIME structure".
    public let place: String
    public let addresses: Int
    public let subscribers: Int
}
