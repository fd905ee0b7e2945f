// What admins may do to lists (`listgate lists`), and the read-only part that the public
// routes and the sender API need: a list by slug or id, and its counts.
import Foundation

public protocol ListCatalog: Sendable {
    func allLists() async throws -> [MailingList]
    func list(_ slug: ListSlug) async throws -> MailingList?
    func list(id: Int64) async throws -> MailingList?
    func memberCounts(listID: Int64) async throws -> MemberCounts
}

public protocol ListStore: ListCatalog {
    func createList(_ list: NewList, source: EventSource) async throws -> MailingList
    /// One `list_updated` event with each changed field; nothing when nothing changes.
    func updateList(_ slug: ListSlug, _ change: ListChange, source: EventSource) async throws
        -> (list: MailingList, changed: [ListFieldChange])
    /// Fails with `DomainError.listArchived` when it already is.
    func archiveList(_ slug: ListSlug, source: EventSource) async throws -> MailingList
}
