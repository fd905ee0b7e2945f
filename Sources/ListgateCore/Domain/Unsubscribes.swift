// Leaving a list: by the link in a mail (page or RFC 8058 one-click), or by asking for
// a link on the list's unsubscribe form. Leaving must be easier and safer than joining:
// links never expire, answers never reveal who is subscribed, and the only mail it can
// cause goes to the address that is leaving.
import Foundation

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
    /// (pending or active) and under its daily mail limit. Returns whether it did.
    func requestUnsubscribeLink(
        list: MailingList, address: EmailAddress, at date: Date, policy: IntakePolicy,
        mail: @Sendable (_ subscriptionPublicID: String) throws -> NewOutboxMessage
    ) async throws -> Bool
}

public struct Unsubscribes: Sendable {
    let store: any UnsubscribeStore
    let renderer: any AutoReplyRendering
    let links: LinkBuilder
    let policy: IntakePolicy

    public init(store: any UnsubscribeStore, renderer: any AutoReplyRendering, links: LinkBuilder,
                policy: IntakePolicy = IntakePolicy()) {
        self.store = store
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

    /// The unsubscribe-by-address form. Throws only for a malformed address; whether a
    /// mail was sent is not the caller's business (the answer must not depend on it).
    @discardableResult
    public func requestLink(list: MailingList, email: String, now: Date = Date()) async throws -> Bool {
        let address: EmailAddress
        do { address = try EmailAddress(email) } catch { throw DomainError.invalidAddress(field: "email", reason: error) }
        let renderer = self.renderer
        let links = self.links
        return try await store.requestUnsubscribeLink(list: list, address: address, at: now, policy: policy) { publicID in
            try renderer.render(
                .unsubscribeLink, list: list, to: address,
                links: AutoReplyLinks(unsubscribe: links.unsubscribe(subscription: publicID)))
        }
    }
}

/// One list on a person's preferences page.
public struct PreferenceEntry: Sendable, Equatable {
    public let listSlug: String
    public let listName: String
    public let status: String
    public let locale: ListLocale
}

public protocol PreferencesStore: Sendable {
    /// Every list this address (by its keyed hash) is on, with its state.
    func preferences(addressHash: String) async throws -> [PreferenceEntry]
    /// Leaves the named lists; returns the slugs actually left. Queues one receipt (from
    /// `receipt`, to this address) when anything changed.
    func leave(
        addressHash: String, listSlugs: [String], origin: RequestOrigin, at date: Date,
        receipt: @Sendable (MailingList, EmailAddress) throws -> NewOutboxMessage?
    ) async throws -> [String]
    /// The address hash of the subscription behind an unsubscribe link.
    func addressHash(subscriptionPublicID: String) async throws -> String?
}

extension Unsubscribes {
    /// `{base_url}/preferences/{token}`: no login; the signed token is the key.
    public func preferencesURL(addressHash: String) -> String {
        links.preferences(addressHash: addressHash)
    }

    /// The preferences link for the person behind an unsubscribe link.
    public func preferencesURL(forUnsubscribeToken token: String, store: any PreferencesStore) async throws -> String? {
        guard case .valid(let id) = links.check(token, purpose: .unsubscribe),
              let hash = try await store.addressHash(subscriptionPublicID: id)
        else { return nil }
        return preferencesURL(addressHash: hash)
    }

    public func preferences(token: String, store: any PreferencesStore) async throws -> [PreferenceEntry]? {
        guard case .valid(let hash) = links.check(token, purpose: .preferences) else { return nil }
        return try await store.preferences(addressHash: hash)
    }

    public func leave(token: String, listSlugs: [String], store: any PreferencesStore, origin: RequestOrigin,
                      now: Date = Date()) async throws -> [String]? {
        guard case .valid(let hash) = links.check(token, purpose: .preferences) else { return nil }
        let renderer = self.renderer
        let links = self.links
        return try await store.leave(addressHash: hash, listSlugs: listSlugs, origin: origin, at: now) { list, address in
            try renderer.render(.receipt, list: list, to: address, links: AutoReplyLinks(resubscribe: links.subscribe(list.slug)))
        }
    }
}
