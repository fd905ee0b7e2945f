// A mailing list as admins define it: who it is from and which addresses its mail may
// name. Members live elsewhere (subscriptions); a list is never an address to mail.
import Foundation

public enum ListLocale: String, Sendable, Codable, CaseIterable {
    case ja, en
}

public struct MailingList: Sendable, Equatable {
    public let id: Int64
    public let slug: ListSlug
    public let name: String
    public let from: Mailbox
    public let replyTo: EmailAddress?
    public let locale: ListLocale
    /// Extra addresses the content guard lets this list's mail contain.
    public let allowedAddresses: [EmailAddress]
    /// Web origins (`https://www.example.org`) whose pages may post this list's form;
    /// empty means any origin.
    public let allowedOrigins: [String]
    /// The company's pages for after a form post, and its privacy policy.
    public let sitePages: SitePages
    /// Who sends, named in every auto-reply's footer and handed to the newsletter sender.
    public let senderIdentity: SenderIdentity
    public let createdAt: Date
    /// When `lists archive` closed the list; nil while it takes subscriptions.
    public let archivedAt: Date?
    /// When senders' soft bounces make a subscription `bounced` (Feedback).
    public let softBounces: SoftBouncePolicy
    /// How many people must approve each snapshot of this list (0–9; 0: none) before its
    /// recipients can be streamed (README, "Before you send"). Frozen into each snapshot.
    public let snapshotApprovals: Int

    /// The range `lists update --snapshot-approvals` and the schema accept.
    public static let snapshotApprovalsRange = 0...9

    public init(
        id: Int64, slug: ListSlug, name: String, from: Mailbox, replyTo: EmailAddress?, locale: ListLocale,
        allowedAddresses: [EmailAddress], allowedOrigins: [String] = [], sitePages: SitePages = SitePages(),
        senderIdentity: SenderIdentity = SenderIdentity(), createdAt: Date, archivedAt: Date? = nil,
        softBounces: SoftBouncePolicy = .standard, snapshotApprovals: Int = 0
    ) {
        self.softBounces = softBounces
        self.snapshotApprovals = snapshotApprovals
        self.allowedOrigins = allowedOrigins
        self.sitePages = sitePages
        self.senderIdentity = senderIdentity
        self.archivedAt = archivedAt
        self.id = id
        self.slug = slug
        self.name = name
        self.from = from
        self.replyTo = replyTo
        self.locale = locale
        self.allowedAddresses = allowedAddresses
        self.createdAt = createdAt
    }
}

extension MailingList {
    /// Every address besides the recipient's that this list's mail may contain: its
    /// From, its Reply-To, its allowed addresses and its contact (the footer names it).
    /// The content guard refuses any other.
    public var addressesMailMayContain: [EmailAddress] {
        [from.address] + (replyTo.map { [$0] } ?? []) + allowedAddresses
            + (senderIdentity.contact?.address.map { [$0] } ?? [])
    }

    /// A closed list takes no subscriptions and no new snapshots; leaving still works.
    public var isArchived: Bool { archivedAt != nil }
}

/// What an admin asks for with `listgate lists create`; validated on construction.
public struct NewList: Sendable {
    public let slug: ListSlug
    public let name: String
    public let from: Mailbox
    public let replyTo: EmailAddress?
    public let locale: ListLocale
    public let allowedAddresses: [EmailAddress]
    public let allowedOrigins: [String]
    public let sitePages: SitePages
    public let senderIdentity: SenderIdentity

    public init(
        slug: ListSlug, name: String, from: Mailbox, replyTo: EmailAddress? = nil,
        locale: ListLocale = .ja, allowedAddresses: [EmailAddress] = [], allowedOrigins: [String] = [],
        sitePages: SitePages = SitePages(), senderIdentity: SenderIdentity = SenderIdentity()
    ) throws(DomainError) {
        self.allowedOrigins = try allowedOrigins.map(Self.origin)
        self.sitePages = sitePages
        self.senderIdentity = senderIdentity
        self.slug = slug
        self.name = try Self.validName(name)
        self.from = try Self.validFrom(from)
        self.replyTo = replyTo
        self.locale = locale
        self.allowedAddresses = allowedAddresses
    }
}

extension NewList {
    /// A list's name as pages and mail show it: one line, at most 200 characters.
    public static func validName(_ name: String) throws(DomainError) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .invalidListName("it is empty") }
        if let problem = OneLineName.problem(trimmed) { throw .invalidListName(problem) }
        return trimmed
    }

    /// A From whose display name fits one header line.
    public static func validFrom(_ from: Mailbox) throws(DomainError) -> Mailbox {
        if let display = from.displayName, let problem = OneLineName.problem(display) { throw .invalidFromName(problem) }
        return from
    }

    /// The origin as browsers send it in the Origin header (see WebOrigin), so that a
    /// stored origin compares equal to the header of a page it names.
    static func origin(_ text: String) throws(DomainError) -> String {
        do {
            return try WebOrigin(text).serialized
        } catch {
            throw .invalidOrigin(text)
        }
    }
}

/// Member counts by state, for `lists list` and `lists show`.
public struct MemberCounts: Sendable, Equatable, Codable {
    public var pending = 0
    public var active = 0
    public var unsubscribed = 0
    public var bounced = 0
    public var complained = 0
    public init() {}
}
