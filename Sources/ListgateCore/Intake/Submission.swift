// The intake: what a web form can ask for, and what it can cause. A form submission
// names one address, the one typed in, and the most it can cause is one confirmation
// mail to that address (README, invariant 2; README, "Why listgate exists": Navigate 2018).
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Links an auto-reply may carry; each kind needs its own (see AutoReplyComposer).
public struct AutoReplyLinks: Sendable, Equatable {
    public var confirm: String?
    public var block: String?
    public var unsubscribe: String?
    /// Every list of the recipient's address, for a limited time (unsubscribe-link mail).
    public var preferences: String?
    public var resubscribe: String?
    /// How long a confirmation link stays valid, shown in the mail.
    public var expiresHours: Int

    public init(
        confirm: String? = nil, block: String? = nil, unsubscribe: String? = nil, preferences: String? = nil,
        resubscribe: String? = nil, expiresHours: Int = 48
    ) {
        self.confirm = confirm
        self.block = block
        self.unsubscribe = unsubscribe
        self.preferences = preferences
        self.resubscribe = resubscribe
        self.expiresHours = expiresHours
    }
}

/// Renders auto-replies for the outbox. Implemented by ListgateMail's composer; the
/// core only needs the finished bytes, so it stays free of MIME and SMTP.
public protocol AutoReplyRendering: Sendable {
    func render(_ kind: AutoReplyKind, list: MailingList, to recipient: EmailAddress, links: AutoReplyLinks) throws
        -> NewOutboxMessage
    /// The templates of a kind of mail as written (subject, text, HTML and what they use):
    /// the mail's part of the wording a consent version names.
    func wording(of kind: AutoReplyKind, locale: ListLocale) -> [ConsentWording.Part]
}

/// Facts about the request that the ledger keeps: never the full IP address.
public struct RequestOrigin: Sendable, Equatable {
    public var route: String
    public var clientNetwork: String?
    public var userAgent: String?

    public init(route: String, clientIP: String? = nil, userAgent: String? = nil) {
        self.route = route
        clientNetwork = clientIP.flatMap(Self.network)
        self.userAgent = userAgent.map { String($0.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(512)) }
    }

    /// As recorded: the network was reduced when the request arrived.
    public init(route: String, clientNetwork: String?, userAgent: String?) {
        self.route = route
        self.clientNetwork = clientNetwork
        self.userAgent = userAgent
    }

    /// An IPv4 address reduced to its /24, an IPv6 address to its /48 (an IPv4-mapped
    /// IPv6 address counts as IPv4).
    public static func network(of address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let bytes = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            return "\(bytes[0]).\(bytes[1]).\(bytes[2]).0/24"
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return "\(bytes[12]).\(bytes[13]).\(bytes[14]).0/24"
        }
        let groups = stride(from: 0, to: 6, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/48"
    }
}

/// What happened to a subscribe request. The HTTP answer is the same for all of them
/// (no enumeration); the outcome only feeds metrics and tests.
public enum SubscribeOutcome: String, Sendable, Equatable, CaseIterable {
    /// A confirmation mail was queued.
    case mailed
    /// A confirmation was mailed less than the cooldown ago and is still valid.
    case cooldown
    case alreadyActive = "already_active"
    /// The address is suppressed for this list (or everywhere).
    case suppressed
    /// The daily number of mails to this address for this list is used up.
    case addressLimit = "address_limit"
    /// The recorded form post was already decided (by another desk).
    case alreadyDecided = "already_decided"
    /// The list was archived between the post and its decision: nothing is sent.
    case listArchived = "list_archived"
}

/// Outcomes carry the list's language, so the answer page needs no second lookup.
public enum ConfirmOutcome: Sendable, Equatable {
    case confirmed(listSlug: String, listName: String, locale: ListLocale)
    /// The request was confirmed before (this link, pressed again or opened later).
    case alreadyConfirmed(listSlug: String, listName: String, locale: ListLocale)
    /// The request was blocked or superseded, or the address suppressed since.
    case used(listSlug: String, listName: String, locale: ListLocale)
    case expired(listSlug: String, listName: String, locale: ListLocale)
    /// The link's request is still pending, but its list has been archived since.
    case listArchived(listSlug: String, listName: String, locale: ListLocale)
    case invalid
}

public enum BlockOutcome: Sendable, Equatable {
    case blocked(listName: String, locale: ListLocale)
    case invalid
}

/// What a GET page shows about a token before anything changes.
public enum TokenPage: Sendable, Equatable {
    case ready(listSlug: String, listName: String, locale: ListLocale)
    /// The subscription request this link is for was confirmed.
    case alreadyConfirmed(listSlug: String, listName: String, locale: ListLocale)
    case used(listSlug: String, listName: String, locale: ListLocale)
    case expired(listSlug: String, listName: String, locale: ListLocale)
    /// A pending request of a list that has been archived since (a confirm link only).
    case listArchived(listSlug: String, listName: String, locale: ListLocale)
    case invalid
}

public struct IntakePolicy: Sendable {
    /// How long a confirmation link is valid.
    public var confirmationLifetime: TimeInterval = 48 * 3600
    /// How long a "this was not me" link is valid.
    public var blockLifetime: TimeInterval = 30 * 24 * 3600
    /// How long the link to every list of an address (mailed by the unsubscribe-by-address
    /// form) is valid: a forwarded mail must not give a stranger that page for ever.
    public var allListsLinkLifetime: TimeInterval = 7 * 24 * 3600
    /// A repeated request within this time after a mail sends no new mail.
    public var cooldown: TimeInterval = 15 * 60
    /// Mails per address and list per day; nil = no limit (benchmarks only).
    public var mailsPerAddressPerDay: Int? = 3

    public init() {}
}

/// A subscribe request ready to be recorded, with the confirmation mail it causes.
public struct NewSubmission: Sendable {
    public let publicID: String
    public let list: MailingList
    public let address: EmailAddress
    public let name: String?
    public let origin: RequestOrigin
    public let consentVersion: String
    public let requestedAt: Date
    public let expiresAt: Date
    /// The recorded form post this decides (consumed in the same transaction), if any.
    public var formRequestID: Int64? = nil
    /// The wording `consentVersion` names, archived with the request the first time it is
    /// used (nil only where a test records a made-up version).
    public var wording: ConsentWording? = nil
}
