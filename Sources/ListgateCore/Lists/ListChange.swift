// What `listgate lists update` may change about a list, and how a change is told: each
// field that differs, with its value before and after, printed by the command and
// recorded by one `list_updated` event. Values come in validated (the CLI parses them as
// `lists create` does); applying a change cannot fail.
import Foundation

/// An admin's change to a list. nil (or an empty collection) leaves a field as it is; a
/// `.some(nil)` clears an optional field.
public struct ListChange: Sendable {
    public var name: String?
    public var from: Mailbox?
    public var locale: ListLocale?
    public var replyTo: EmailAddress??
    public var allowAddresses: [EmailAddress] = []
    public var disallowAddresses: [EmailAddress] = []
    /// Serialised origins (WebOrigin), as `lists create` stores them.
    public var allowOrigins: [String] = []
    public var disallowOrigins: [String] = []
    public var sitePages: [SitePage: SitePageURL?] = [:]
    public var identity = SenderIdentityChange()
    /// The soft-bounce policy's parts, each checked by `SoftBouncePolicy`.
    public var softBounceLimit: Int?
    public var softBounceDays: Int?
    /// Checked against `MailingList.snapshotApprovalsRange` by whoever builds the change.
    public var snapshotApprovals: Int?

    public init() {}

    /// True when nothing at all was asked for (which is an error, unlike a change that
    /// asks for what is already so).
    public var isEmpty: Bool {
        name == nil && from == nil && locale == nil && replyTo == nil && allowAddresses.isEmpty
            && disallowAddresses.isEmpty && allowOrigins.isEmpty && disallowOrigins.isEmpty && sitePages.isEmpty
            && identity.isEmpty && softBounceLimit == nil && softBounceDays == nil
            && snapshotApprovals == nil
    }

    /// The list as this change leaves it.
    public func applied(to list: MailingList) -> MailingList {
        var addresses = list.allowedAddresses.filter { !disallowAddresses.contains($0) }
        for address in allowAddresses where !addresses.contains(address) { addresses.append(address) }
        var origins = list.allowedOrigins.filter { !disallowOrigins.contains($0) }
        for origin in allowOrigins where !origins.contains(origin) { origins.append(origin) }
        var pages = list.sitePages
        for (page, url) in sitePages { pages[page] = url }
        var senderIdentity = list.senderIdentity
        identity.apply(to: &senderIdentity)
        return MailingList(
            id: list.id, slug: list.slug, name: name ?? list.name, from: from ?? list.from,
            replyTo: replyTo ?? list.replyTo, locale: locale ?? list.locale,
            // In the order the store reads them back, so an unchanged set compares equal.
            allowedAddresses: addresses.sorted { $0.entered < $1.entered }, allowedOrigins: origins.sorted(),
            sitePages: pages, senderIdentity: senderIdentity, createdAt: list.createdAt, archivedAt: list.archivedAt,
            softBounces: SoftBouncePolicy(
                checkedLimit: softBounceLimit ?? list.softBounces.limit, days: softBounceDays ?? list.softBounces.days),
            snapshotApprovals: snapshotApprovals ?? list.snapshotApprovals)
    }
}

/// One field of a list changed by `lists update`, as the `list_updated` event records it.
public struct ListFieldChange: Sendable, Equatable {
    public let field: String
    public let before: String?
    public let after: String?

    public init(field: String, before: String?, after: String?) {
        self.field = field
        self.before = before
        self.after = after
    }
}

extension MailingList {
    /// The fields `lists update` can change, as text, under the names `list_updated`
    /// records (and `lists show --json` uses); nil for a field that is not set.
    var changeableFields: [(field: String, value: String?)] {
        func joined(_ values: [String]) -> String? { values.isEmpty ? nil : values.sorted().joined(separator: ", ") }
        return [
            ("name", name),
            ("from", from.formatted),
            ("locale", locale.rawValue),
            ("reply_to", replyTo?.entered),
            ("allowed_addresses", joined(allowedAddresses.map(\.entered))),
            ("allowed_origins", joined(allowedOrigins)),
        ]
            + SitePage.allCases.map { ($0.field, sitePages[$0]?.text) }
            + [
                ("legal_name", senderIdentity.legalName),
                ("postal_address", senderIdentity.postalAddress),
                ("contact", senderIdentity.contact?.text),
                ("soft_bounce_limit", String(softBounces.limit)),
                ("soft_bounce_days", String(softBounces.days)),
                ("snapshot_approvals", String(snapshotApprovals)),
            ]
    }

    /// Each field that differs in `updated`, in the order `lists show` lists them.
    public func changes(to updated: MailingList) -> [ListFieldChange] {
        zip(changeableFields, updated.changeableFields).compactMap { before, after in
            before.value == after.value ? nil : ListFieldChange(field: before.field, before: before.value, after: after.value)
        }
    }
}

extension [ListFieldChange] {
    /// The `list_updated` event's detail: flat `FIELD.before` / `FIELD.after` keys, "" for
    /// a field that was or is now unset. Only list settings: never a subscriber's address.
    public var eventDetail: [String: String] {
        var detail: [String: String] = [:]
        for change in self {
            detail["\(change.field).before"] = change.before ?? ""
            detail["\(change.field).after"] = change.after ?? ""
        }
        return detail
    }
}
