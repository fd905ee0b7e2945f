// Leaving a list: by the link in a mail (page or RFC 8058 one-click), or by asking for
// a link on the list's unsubscribe form. Leaving must be easier and safer than joining:
// links never expire, answers never reveal who is subscribed, and the only mail it can
// cause goes to the address that is leaving.
import Foundation

/// How a person left a list; recorded in the `unsubscribed` event.
public enum UnsubscribeRoute: String, Sendable, CaseIterable {
    case oneClick = "one-click"
    case page
    case preferences
    case byAddress = "by-address"
    case admin
    case block
    /// The newsletter sender reported it (its own unsubscribe link, a provider's list-unsubscribe).
    case sender
}

public enum UnsubscribeOutcome: Sendable, Equatable {
    case unsubscribed(listSlug: String, listName: String, locale: ListLocale)
    /// Unsubscribing twice is fine, and says so.
    case alreadyUnsubscribed(listSlug: String, listName: String, locale: ListLocale)
    case invalid
}

public protocol UnsubscribeStore: Sendable {
    /// What the page for an unsubscribe link shows: ready, already done (`used`), or invalid.
    func unsubscribePage(publicID: String) async throws -> TokenPage
    /// Ends one subscription; when `receipt` returns a message it is queued in the same
    /// transaction (to the subscriber, the only recipient it can name).
    func unsubscribe(
        publicID: String, route: UnsubscribeRoute, origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> UnsubscribeOutcome
    /// Queues a mail with an unsubscribe link if, and only if, the address is on the list
    /// (pending or active) and its mailbox is under its daily mail limit. Returns whether
    /// it did. `formRequestID` names the recorded post this decides, consumed in the same
    /// transaction (nothing is done if it was already decided).
    func requestUnsubscribeLink(
        list: MailingList, address: EmailAddress, at date: Date, policy: IntakePolicy, formRequestID: Int64?,
        mail: @Sendable (_ subscriptionPublicID: String, _ addressHash: String) throws -> NewOutboxMessage
    ) async throws -> Bool
}

public struct Unsubscribes: Sendable {
    let store: any UnsubscribeStore
    /// Where the unsubscribe-by-address form records its posts.
    let intake: any IntakeStore
    let renderer: any AutoReplyRendering
    let links: LinkBuilder
    let policy: IntakePolicy

    public init(store: any UnsubscribeStore & IntakeStore, renderer: any AutoReplyRendering, links: LinkBuilder,
                policy: IntakePolicy = IntakePolicy()) {
        self.store = store
        self.intake = store
        self.renderer = renderer
        self.links = links
        self.policy = policy
    }

    /// `{base_url}/unsubscribe/{token}` for one subscription.
    public func unsubscribeURL(subscriptionPublicID: String) -> String {
        links.unsubscribe(subscription: subscriptionPublicID)
    }

    public func page(for token: String) async throws -> TokenPage {
        guard case .valid(let id) = links.check(token, purpose: .unsubscribe) else { return .invalid }
        return try await store.unsubscribePage(publicID: id)
    }

    /// One-click (RFC 8058) sends no receipt: the mailbox provider acted for the person.
    public func unsubscribe(token: String, oneClick: Bool, origin: RequestOrigin, now: Date = Date()) async throws
        -> UnsubscribeOutcome
    {
        guard case .valid(let id) = links.check(token, purpose: .unsubscribe, now: now) else { return .invalid }
        let renderer = self.renderer
        let links = self.links
        return try await store.unsubscribe(
            publicID: id, route: oneClick ? .oneClick : .page, origin: origin, at: now,
            receipt: { list, address in
                guard !oneClick else { return nil }
                return try renderer.render(
                    .receipt, list: list, to: address,
                    links: AutoReplyLinks(resubscribe: links.subscribe(list.slug)))
            })
    }

    /// The unsubscribe-by-address form's front door: validates and records the post; the
    /// IntakeDesk decides it later (FormRequest.swift), so the answer cannot depend on
    /// whether the address is on the list. Throws only for a malformed address.
    public func receiveLinkRequest(list: MailingList, email: String, origin: RequestOrigin, now: Date = Date()) async throws {
        let address = try Intake.validAddress(email)
        try await intake.recordFormRequest(
            kind: .unsubscribeLink, list: list, address: address, name: nil, origin: origin, at: now)
    }

    /// Decides an unsubscribe-link request: one mail to the address, with the link for
    /// this list and a link to all of the address's lists that works for 7 days.
    @discardableResult
    public func requestLink(list: MailingList, email: String, now: Date = Date(), formRequestID: Int64? = nil) async throws
        -> Bool
    {
        let address = try Intake.validAddress(email)
        let renderer = self.renderer
        let links = self.links
        let allListsExpiry = now.addingTimeInterval(policy.allListsLinkLifetime)
        return try await store.requestUnsubscribeLink(
            list: list, address: address, at: now, policy: policy, formRequestID: formRequestID
        ) { publicID, addressHash in
            do {
                return try renderer.render(
                    .unsubscribeLink, list: list, to: address,
                    links: AutoReplyLinks(
                        unsubscribe: links.unsubscribe(subscription: publicID),
                        preferences: links.allLists(addressHash: addressHash, expires: allListsExpiry)))
            } catch {
                // As for a confirmation: an address the mail cannot be written to.
                throw DomainError.undeliverableAddress
            }
        }
    }
}

/// One list on a person's preferences page.
public struct PreferenceEntry: Sendable, Equatable {
    public let listSlug: String
    public let listName: String
    public let status: String
    public let locale: ListLocale

    package init(listSlug: String, listName: String, status: String, locale: ListLocale) {
        (self.listSlug, self.listName, self.status, self.locale) = (listSlug, listName, status, locale)
    }
}

/// What a preferences link governs: the one subscription behind an unsubscribe link
/// (never expires, like that link), or every list of an address (a link mailed for that
/// purpose by the unsubscribe-by-address form, valid for 7 days). A forwarded newsletter
/// therefore shows and changes nothing beyond its own list.
public enum PreferencesScope: Sendable, Equatable {
    case subscription(publicID: String)
    case address(hash: String)
}

public protocol PreferencesStore: Sendable {
    /// The lists in scope, with their state.
    func preferences(_ scope: PreferencesScope) async throws -> [PreferenceEntry]
    /// Leaves the named lists that are in scope; returns the slugs actually left. Queues
    /// one receipt (from `receipt`, to this address) when anything changed.
    func leave(
        _ scope: PreferencesScope, listSlugs: [String], origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> [String]
}

extension Unsubscribes {
    /// The preferences link shown after an unsubscribe link was used: that list only.
    public func preferencesURL(forUnsubscribeToken token: String) -> String? {
        guard case .valid(let id) = links.check(token, purpose: .unsubscribe) else { return nil }
        return links.preferences(subscription: id)
    }

    /// The scope a preferences token grants, or nil (invalid, or an all-lists link past
    /// its 7 days).
    public func preferencesScope(token: String, now: Date = Date()) -> PreferencesScope? {
        if case .valid(let id) = links.check(token, purpose: .preferences, now: now) { return .subscription(publicID: id) }
        if case .valid(let hash) = links.check(token, purpose: .allLists, now: now) { return .address(hash: hash) }
        return nil
    }

    public func preferences(token: String, store: any PreferencesStore) async throws -> [PreferenceEntry]? {
        guard let scope = preferencesScope(token: token) else { return nil }
        return try await store.preferences(scope)
    }

    public func leave(token: String, listSlugs: [String], store: any PreferencesStore, origin: RequestOrigin,
                      now: Date = Date()) async throws -> [String]? {
        guard let scope = preferencesScope(token: token, now: now) else { return nil }
        let renderer = self.renderer
        let links = self.links
        return try await store.leave(scope, listSlugs: listSlugs, origin: origin, at: now) { list, address in
            try renderer.render(.receipt, list: list, to: address, links: AutoReplyLinks(resubscribe: links.subscribe(list.slug)))
        }
    }
}
