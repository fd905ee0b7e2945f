// What admins may do to one person's membership (`listgate subscribers`,
// `listgate suppressions`). Every method is about ONE address and is one transaction:
// the change and its ledger events commit together, and a refusal changes nothing.
// Nothing here can queue mail.
import Foundation

public protocol MembershipStore: Sendable {
    /// Adds the address to the list as `pending` (no mail) or, when confirmed, `active`.
    /// Refuses a suppressed address (`MembershipError.suppressed`) and a subscription that
    /// was left, bounced or complained (`MembershipError.cannotReactivate`); an unknown list
    /// is `DomainError.listNotFound`.
    func addSubscriber(_ subscriber: NewSubscriber, source: EventSource, at date: Date) async throws
        -> AddSubscriberOutcome
    /// Unsubscribes the address from the list (route `admin`), which also suppresses it
    /// for that list. Returns the state it had; `MembershipError.notOnList` unless it was
    /// pending or active.
    func removeSubscriber(_ address: EmailAddress, from list: ListSlug, source: EventSource, at date: Date)
        async throws -> SubscriptionStatus
    /// Every list the address (by identity key) is on, in any state, by slug.
    func subscriptions(of address: EmailAddress) async throws -> [SubscriptionRecord]
    /// Erases the address and every personal field stored with it, keeps a global hashed
    /// suppression so nothing brings the person back, records `forgotten`, then empties
    /// the write-ahead log.
    func forget(_ address: EmailAddress, source: EventSource, at date: Date) async throws -> ForgetReport
    /// Suppresses the address (reason `admin`) for one list, or every list when `list` is
    /// nil, and ends its pending or active subscriptions there.
    func suppress(_ address: EmailAddress, list: ListSlug?, source: EventSource, at date: Date) async throws
        -> SuppressResult
    /// Removes the suppression of exactly this scope and returns its reason. One left by
    /// `forget` is removed only when `includingForgotten` is true.
    func unsuppress(
        _ address: EmailAddress, list: ListSlug?, includingForgotten: Bool, source: EventSource, at date: Date
    ) async throws -> SuppressionReason
    /// Every suppression, oldest first.
    func suppressions() async throws -> [SuppressionRecord]
}
